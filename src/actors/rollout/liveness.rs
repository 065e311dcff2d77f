//! Liveness of a freshly recreated pod (images.md §4.4, L-12): every container of the pod
//! runs on the device and, when the container declares a `livenessProbe` or `startupProbe`
//! with `tcpSocket` or `httpGet`, that probe succeeds against the pod IP — a real TCP
//! connect or HTTP GET, run by the lifecycle's probe code (`lifecycle::probe`). A container
//! that declares UDP port 53 is a DNS server: it is live only once a real DNS query to its
//! address on port 53 gets an answer (NXDOMAIN counts, L-5), so a push never takes every DNS
//! server of a site down at once (L-12).

use crate::actors::device::DeviceLink;
use crate::actors::lifecycle::probe::ProbeSpec;
use crate::actors::pods::{GetPod, PodsActor};
use crate::pod::DesiredPod;
use actix::prelude::*;
use k8s_openapi::api::core::v1::Container;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(200);
const ATTEMPT: Duration = Duration::from_secs(1);

/// One container to check.
struct Check {
    device_name: String,
    ip: String,
    probe: Option<ProbeSpec>,
    /// Serves DNS on UDP 53: answer a query before counting as live.
    dns: bool,
}

/// The name a DNS liveness query asks for; any answer will do.
const DNS_PROBE_NAME: &str = "mkube-liveness.invalid.";

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
    crate::pod::spec::containers(&pod.pod)
        .iter()
        .map(|c| {
            let rec = pod
                .containers
                .get(&c.name)
                .filter(|r| r.is_created())
                .ok_or_else(|| format!("container {} has no device container", c.name))?;
            Ok(Check {
                device_name: rec.device_name.clone(),
                ip: rec.ip.clone(),
                probe: probe_of(c)?,
                dns: serves_dns(c),
            })
        })
        .collect()
}

/// The container's liveness probe, else its startup probe, as the lifecycle runs it (§7.3:
/// tcpSocket / httpGet; an `https` GET is a TCP connect). A probe naming an unknown port is
/// an error: it could never pass.
fn probe_of(c: &Container) -> Result<Option<ProbeSpec>, String> {
    for p in [&c.liveness_probe, &c.startup_probe].into_iter().flatten() {
        if p.tcp_socket.is_none() && p.http_get.is_none() {
            continue;
        }
        return ProbeSpec::from_probe(p, c)
            .map(|mut spec| {
                spec.timeout = ATTEMPT;
                Some(spec)
            })
            .ok_or_else(|| format!("probe of {} names no usable port", c.name));
    }
    Ok(None)
}

/// Declares UDP port 53 (`protocol: UDP`, `containerPort: 53`).
fn serves_dns(c: &Container) -> bool {
    c.ports.iter().flatten().any(|p| {
        p.container_port == 53
            && p.protocol
                .as_deref()
                .unwrap_or("TCP")
                .eq_ignore_ascii_case("UDP")
    })
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
        if let Some(probe) = &c.probe
            && !probe.run(&c.ip).await
        {
            return Err(format!("probe of {} failed at {}", c.device_name, c.ip));
        }
        if c.dns {
            dns_answers(&c.device_name, &c.ip).await?;
        }
    }
    Ok(())
}

async fn dns_answers(device_name: &str, ip: &str) -> Result<(), String> {
    let addr: std::net::Ipv4Addr = ip
        .parse()
        .map_err(|_| format!("{device_name} has no address to ask DNS"))?;
    let server = std::net::SocketAddr::from((addr, 53));
    match crate::microdns::dns_alive(server, DNS_PROBE_NAME, ATTEMPT).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("DNS on {server} of {device_name} does not answer")),
        Err(e) => Err(format!("DNS on {server} of {device_name}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::lifecycle::probe::Action;
    use k8s_openapi::api::core::v1::{ContainerPort, HTTPGetAction, Probe, TCPSocketAction};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn action(c: &Container) -> Result<Option<Action>, String> {
        probe_of(c).map(|p| p.map(|p| p.action))
    }

    #[test]
    fn udp_53_marks_a_dns_server() {
        let port = |n: i32, proto: Option<&str>| ContainerPort {
            container_port: n,
            protocol: proto.map(str::to_string),
            ..Default::default()
        };
        let mut c = Container::default();
        assert!(!serves_dns(&c));
        c.ports = Some(vec![port(53, None)]);
        assert!(
            !serves_dns(&c),
            "TCP 53 alone is not the DNS liveness signal"
        );
        c.ports = Some(vec![port(8080, None), port(53, Some("UDP"))]);
        assert!(serves_dns(&c));
    }

    #[test]
    fn liveness_first_then_startup() {
        let mut c = Container {
            name: "dns".into(),
            ports: Some(vec![ContainerPort {
                name: Some("web".into()),
                container_port: 8080,
                ..Default::default()
            }]),
            ..Default::default()
        };
        assert_eq!(action(&c), Ok(None));
        c.startup_probe = Some(Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::Int(53),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(action(&c), Ok(Some(Action::Tcp { port: 53 })));
        c.liveness_probe = Some(Probe {
            http_get: Some(HTTPGetAction {
                port: IntOrString::String("web".into()),
                path: Some("/healthz".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        let http = Action::Http {
            port: 8080,
            path: "/healthz".into(),
        };
        assert_eq!(action(&c), Ok(Some(http)));
        let get = c
            .liveness_probe
            .as_mut()
            .unwrap()
            .http_get
            .as_mut()
            .unwrap();
        get.port = IntOrString::String("nope".into());
        assert!(action(&c).is_err());
        let get = c
            .liveness_probe
            .as_mut()
            .unwrap()
            .http_get
            .as_mut()
            .unwrap();
        get.port = IntOrString::Int(0);
        assert!(action(&c).is_err());
    }
}
