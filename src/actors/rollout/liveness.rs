//! Liveness of a freshly recreated pod (images.md §4.4, L-12): every container of the pod
//! runs on the device and, when the container declares a `livenessProbe` or `startupProbe`
//! with `tcpSocket` or `httpGet`, that probe succeeds against the pod IP — a real TCP
//! connect or HTTP GET. `https` probes are checked as a TCP connect (no TLS client here).

use crate::actors::device::DeviceLink;
use crate::actors::pods::state::DesiredPod;
use crate::actors::pods::{GetPod, PodsActor};
use actix::prelude::*;
use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const POLL: Duration = Duration::from_millis(200);
const ATTEMPT: Duration = Duration::from_secs(1);

/// One container to check.
struct Check {
    device_name: String,
    ip: String,
    probe: Option<Target>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Tcp(u16),
    Http { port: u16, path: String },
}

/// Waits until pod `key` is live or `deadline` passes; `Err` says why it is not live.
/// A pod no longer desired has nothing to wait for.
pub async fn wait(
    pods: &Addr<PodsActor>,
    device: &DeviceLink,
    key: &str,
    deadline: Instant,
) -> Result<(), String> {
    let view = pods
        .send(GetPod {
            key: key.to_string(),
        })
        .await
        .map_err(|e| format!("pods actor: {e}"))?;
    let Some(pod) = view.desired else {
        return Ok(());
    };
    let checks = checks(&pod)?;
    let started = Instant::now();
    loop {
        let last = match once(device, &checks).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            let waited = started.elapsed().as_secs_f64();
            return Err(format!("not live after {waited:.1} s: {last}"));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn checks(pod: &DesiredPod) -> Result<Vec<Check>, String> {
    let spec = pod
        .pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or(&[]);
    spec.iter()
        .map(|c| {
            let rec = pod
                .containers
                .get(&c.name)
                .filter(|r| r.is_created())
                .ok_or_else(|| format!("container {} has no device container", c.name))?;
            Ok(Check {
                device_name: rec.device_name.clone(),
                ip: rec.ip.clone(),
                probe: target(c)?,
            })
        })
        .collect()
}

/// The container's liveness probe, else its startup probe (tcpSocket / httpGet only).
fn target(c: &Container) -> Result<Option<Target>, String> {
    for probe in [&c.liveness_probe, &c.startup_probe].into_iter().flatten() {
        if let Some(t) = probe_target(c, probe)? {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

fn probe_target(c: &Container, p: &Probe) -> Result<Option<Target>, String> {
    if let Some(tcp) = &p.tcp_socket {
        return Ok(Some(Target::Tcp(port(c, &tcp.port)?)));
    }
    if let Some(http) = &p.http_get {
        let port = port(c, &http.port)?;
        if http
            .scheme
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("https"))
        {
            return Ok(Some(Target::Tcp(port)));
        }
        let path = http.path.clone().filter(|p| p.starts_with('/'));
        return Ok(Some(Target::Http {
            port,
            path: path.unwrap_or_else(|| "/".into()),
        }));
    }
    Ok(None)
}

/// A probe port: a number, or the name of one of the container's ports.
fn port(c: &Container, p: &IntOrString) -> Result<u16, String> {
    let n = match p {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|cp| cp.name.as_deref() == Some(name.as_str()))
            .map(|cp| i64::from(cp.container_port))
            .ok_or_else(|| format!("probe port {name:?} is not a port of {}", c.name))?,
    };
    u16::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("probe port {n} out of range"))
}

async fn once(device: &DeviceLink, checks: &[Check]) -> Result<(), String> {
    let ros = device
        .get()
        .await
        .map_err(|e| format!("RouterOS unreachable: {e}"))?;
    for c in checks {
        let row = ros
            .find_container(&c.device_name)
            .await
            .map_err(|e| format!("reading {}: {e}", c.device_name))?;
        if !row.is_some_and(|r| r.state.is_running()) {
            return Err(format!("container {} is not running", c.device_name));
        }
        let Some(t) = &c.probe else {
            continue;
        };
        let ip: Ipv4Addr =
            c.ip.parse()
                .map_err(|_| format!("container {} has no pod IP", c.device_name))?;
        probe(ip, t)
            .await
            .map_err(|e| format!("probe of {} failed: {e}", c.device_name))?;
    }
    Ok(())
}

async fn probe(ip: Ipv4Addr, t: &Target) -> Result<(), String> {
    let port = match t {
        Target::Tcp(p) | Target::Http { port: p, .. } => *p,
    };
    let addr = SocketAddr::from((ip, port));
    let mut sock = tokio::time::timeout(ATTEMPT, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connect to {addr} timed out"))?
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let Target::Http { path, .. } = t else {
        return Ok(());
    };
    let exchange = async {
        let req = format!("GET {path} HTTP/1.0\r\nHost: {ip}:{port}\r\nConnection: close\r\n\r\n");
        sock.write_all(req.as_bytes()).await?;
        let mut buf = Vec::with_capacity(64);
        let mut chunk = [0u8; 256];
        while buf.len() < 64 && !buf.contains(&b'\n') {
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, std::io::Error>(buf)
    };
    let head = tokio::time::timeout(ATTEMPT, exchange)
        .await
        .map_err(|_| format!("GET {addr}{path} timed out"))?
        .map_err(|e| format!("GET {addr}{path}: {e}"))?;
    match status(&head) {
        Some(code) if (200..400).contains(&code) => Ok(()),
        Some(code) => Err(format!("GET {addr}{path} answered {code}")),
        None => Err(format!("GET {addr}{path}: no HTTP status line")),
    }
}

/// The status code of an HTTP status line (`HTTP/1.1 200 OK`).
fn status(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerPort, HTTPGetAction, TCPSocketAction};

    #[test]
    fn status_lines() {
        assert_eq!(status(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(status(b"HTTP/1.0 503 x"), Some(503));
        assert_eq!(status(b"SSH-2.0"), None);
        assert_eq!(status(b""), None);
    }

    #[test]
    fn probe_targets() {
        let mut c = Container {
            name: "dns".into(),
            ports: Some(vec![ContainerPort {
                name: Some("web".into()),
                container_port: 8080,
                ..Default::default()
            }]),
            ..Default::default()
        };
        assert_eq!(target(&c), Ok(None));
        c.startup_probe = Some(Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::Int(53),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(target(&c), Ok(Some(Target::Tcp(53))));
        c.liveness_probe = Some(Probe {
            http_get: Some(HTTPGetAction {
                port: IntOrString::String("web".into()),
                path: Some("/healthz".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        let http = Target::Http {
            port: 8080,
            path: "/healthz".into(),
        };
        assert_eq!(target(&c), Ok(Some(http)));
        c.liveness_probe
            .as_mut()
            .unwrap()
            .http_get
            .as_mut()
            .unwrap()
            .port = IntOrString::String("nope".into());
        assert!(target(&c).is_err());
        c.liveness_probe
            .as_mut()
            .unwrap()
            .http_get
            .as_mut()
            .unwrap()
            .port = IntOrString::Int(0);
        assert!(target(&c).is_err());
    }
}
