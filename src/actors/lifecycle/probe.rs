//! §7.3 probes: the spec's `startupProbe`/`livenessProbe`/`readinessProbe` with `tcpSocket`
//! or `httpGet`, run against the unit's IP with a real TCP connect or HTTP GET under
//! `timeoutSeconds`. `exec` never reaches here: admission rejects it [D].

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Tcp { port: u16 },
    Http { port: u16, path: String },
}

/// One probe with the §7.3 defaults applied (period 10 s, timeout 1 s, failure threshold
/// 3, success threshold 1). `initialDelaySeconds` is honoured (the original ignored it [O]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    pub action: Action,
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub failure_threshold: u32,
    pub success_threshold: u32,
}

/// The probes of one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probes {
    pub startup: Option<ProbeSpec>,
    pub liveness: Option<ProbeSpec>,
    pub readiness: Option<ProbeSpec>,
}

impl Probes {
    pub fn of(c: &Container) -> Probes {
        let spec = |p: &Option<Probe>| p.as_ref().and_then(|p| ProbeSpec::from_probe(p, c));
        Probes {
            startup: spec(&c.startup_probe),
            liveness: spec(&c.liveness_probe),
            readiness: spec(&c.readiness_probe),
        }
    }
}

fn positive(v: Option<i32>, default: u32) -> u32 {
    match v {
        Some(n) if n > 0 => n as u32,
        _ => default,
    }
}

/// A numeric port, or a named one looked up in the container's ports.
fn port(p: &IntOrString, c: &Container) -> Option<u16> {
    match p {
        IntOrString::Int(n) => u16::try_from(*n).ok().filter(|n| *n > 0),
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|cp| cp.name.as_deref() == Some(name.as_str()))
            .and_then(|cp| u16::try_from(cp.container_port).ok()),
    }
}

impl ProbeSpec {
    /// `None` for an `exec` probe or one without a usable port.
    pub fn from_probe(p: &Probe, c: &Container) -> Option<ProbeSpec> {
        let action = if let Some(t) = &p.tcp_socket {
            Action::Tcp {
                port: port(&t.port, c)?,
            }
        } else if let Some(h) = &p.http_get
            && h.scheme
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("https"))
        {
            // No TLS client for probes: an HTTPS endpoint that accepts connections is up.
            Action::Tcp {
                port: port(&h.port, c)?,
            }
        } else if let Some(h) = &p.http_get {
            let path = h.path.clone().unwrap_or_default();
            let path = if path.starts_with('/') {
                path
            } else {
                format!("/{path}")
            };
            Action::Http {
                port: port(&h.port, c)?,
                path,
            }
        } else {
            if p.exec.is_some() {
                tracing::warn!(container = %c.name, "exec probe skipped (§7.3 [D])");
            }
            return None;
        };
        let secs = |v: Option<i32>, d: u32| Duration::from_secs(u64::from(positive(v, d)));
        Some(ProbeSpec {
            action,
            initial_delay: Duration::from_secs(
                p.initial_delay_seconds.filter(|n| *n > 0).unwrap_or(0) as u64,
            ),
            period: secs(p.period_seconds, 10),
            timeout: secs(p.timeout_seconds, 1),
            failure_threshold: positive(p.failure_threshold, 3),
            success_threshold: positive(p.success_threshold, 1),
        })
    }

    /// One probe run; `false` on any error, a timeout or an empty/invalid IP (§7.3).
    pub async fn run(&self, ip: &str) -> bool {
        let Ok(ip) = ip.parse::<Ipv4Addr>() else {
            return false;
        };
        tokio::time::timeout(self.timeout, self.attempt(ip))
            .await
            .unwrap_or(false)
    }

    async fn attempt(&self, ip: Ipv4Addr) -> bool {
        match &self.action {
            Action::Tcp { port } => TcpStream::connect(SocketAddr::from((ip, *port)))
                .await
                .is_ok(),
            Action::Http { port, path } => http_get(ip, *port, path).await.unwrap_or(false),
        }
    }
}

/// `GET http://<ip>:<port><path>`; success = status 200–399 (§7.3).
async fn http_get(ip: Ipv4Addr, port: u16, path: &str) -> std::io::Result<bool> {
    let mut sock = TcpStream::connect(SocketAddr::from((ip, port))).await?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {ip}:{port}\r\nUser-Agent: mkube-probe\r\nConnection: close\r\n\r\n"
    );
    sock.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(64);
    let mut chunk = [0u8; 256];
    while !buf.contains(&b'\n') && buf.len() < 4096 {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    let status = line
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok());
    Ok(status.is_some_and(|s| (200..400).contains(&s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{HTTPGetAction, TCPSocketAction};

    #[test]
    fn defaults_and_ports() {
        let c = Container::default();
        let p = Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::Int(8080),
                ..Default::default()
            }),
            ..Default::default()
        };
        let s = ProbeSpec::from_probe(&p, &c).unwrap();
        assert_eq!(s.action, Action::Tcp { port: 8080 });
        assert_eq!(
            (s.period, s.timeout),
            (Duration::from_secs(10), Duration::from_secs(1))
        );
        assert_eq!((s.failure_threshold, s.success_threshold), (3, 1));
        let p = Probe {
            http_get: Some(HTTPGetAction {
                port: IntOrString::String("web".into()),
                path: Some("healthz".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(
            ProbeSpec::from_probe(&p, &c).is_none(),
            "unknown named port"
        );
        assert!(ProbeSpec::from_probe(&Probe::default(), &c).is_none());
    }

    #[tokio::test]
    async fn empty_ip_fails() {
        let s = ProbeSpec {
            action: Action::Tcp { port: 1 },
            initial_delay: Duration::ZERO,
            period: Duration::from_secs(1),
            timeout: Duration::from_millis(200),
            failure_threshold: 1,
            success_threshold: 1,
        };
        assert!(!s.run("").await);
    }
}
