//! Probe listeners (knob `probePorts`): every running container whose veth address is
//! in 127.0.0.0/8 answers HTTP 200 on those ports until it stops.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use super::container::CState;
use super::device::{Device, VETH};
use super::rows::split_list;

#[derive(Default)]
pub struct Probes {
    live: HashMap<SocketAddr, JoinHandle<()>>,
}

/// Addresses the probe listeners should have right now.
pub fn wanted(d: &Device) -> Vec<SocketAddr> {
    let ports = &d.t.knobs.probe_ports;
    if ports.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for c in d.t.containers.iter().filter(|c| c.state == CState::Running) {
        for iface in c
            .props
            .get("interface")
            .map(|s| split_list(s))
            .unwrap_or_default()
        {
            let Some(veth) = d.find_row(VETH, "name", &iface) else {
                continue;
            };
            let first = veth
                .get("address")
                .map(|a| split_list(a))
                .unwrap_or_default()
                .into_iter()
                .find_map(|cidr| cidr.split('/').next()?.parse::<Ipv4Addr>().ok());
            if let Some(ip) = first.filter(|ip| ip.is_loopback()) {
                out.extend(ports.iter().map(|p| SocketAddr::from((ip, *p))));
            }
        }
    }
    out
}

impl Probes {
    /// Starts and stops listeners to match `want`. Must run inside a tokio runtime.
    pub fn sync(&mut self, want: &[SocketAddr]) {
        self.live.retain(|addr, task| {
            let keep = want.contains(addr) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        for addr in want {
            if self.live.contains_key(addr) {
                continue;
            }
            let std_listener = match std::net::TcpListener::bind(addr) {
                Ok(l) => l,
                Err(e) => {
                    tracing::debug!(%addr, error = %e, "routeros-sim: probe bind failed");
                    continue;
                }
            };
            let _ = std_listener.set_nonblocking(true);
            let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                continue;
            };
            let task = tokio::spawn(async move {
                while let Ok((mut sock, _)) = listener.accept().await {
                    tokio::spawn(async move {
                        let mut buf = [0u8; 2048];
                        let _ = sock.read(&mut buf).await;
                        let _ = sock
                            .write_all(
                                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                            )
                            .await;
                        let _ = sock.shutdown().await;
                    });
                }
            });
            self.live.insert(*addr, task);
        }
    }

    pub fn stop_all(&mut self) {
        for (_, t) in self.live.drain() {
            t.abort();
        }
    }
}
