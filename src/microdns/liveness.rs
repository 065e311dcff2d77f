//! DNS liveness (controller.md L-5): a real UDP `A` query; any well-formed answer, NXDOMAIN and
//! REFUSED included, means the server is alive. Silence or ICMP "port unreachable" means not.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, Query};
use hickory_proto::rr::{Name, RecordType};
use tokio::net::UdpSocket;

#[derive(Debug, thiserror::Error)]
pub enum LivenessError {
    #[error("bad DNS name {name:?}: {message}")]
    Name { name: String, message: String },
    #[error("DNS probe: {0}")]
    Io(#[from] std::io::Error),
    #[error("DNS probe: cannot encode the query: {0}")]
    Encode(String),
}

/// Sends one `A` query for `name` to `server` and waits up to `timeout` for its answer.
pub async fn dns_alive(
    server: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<bool, LivenessError> {
    Ok(exchange(server, name, timeout).await?.is_some())
}

/// The A records a real UDP query for `name` at `server` returns: `None` when nothing
/// answered in time, an empty list for an answer without addresses (NXDOMAIN, REFUSED, …).
pub async fn resolve_a(
    server: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<Option<Vec<Ipv4Addr>>, LivenessError> {
    let Some(reply) = exchange(server, name, timeout).await? else {
        return Ok(None);
    };
    let ips = reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            hickory_proto::rr::RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    Ok(Some(ips))
}

/// One query and its matching response, if one arrives within `timeout`.
async fn exchange(
    server: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<Option<Message>, LivenessError> {
    let qname = Name::from_str(name).map_err(|e| LivenessError::Name {
        name: name.to_string(),
        message: e.to_string(),
    })?;
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(qname, RecordType::A));
    let id = query.metadata.id;
    let wire = query
        .to_vec()
        .map_err(|e| LivenessError::Encode(e.to_string()))?;

    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    // Connected, so an ICMP "port unreachable" comes back as ConnectionRefused.
    socket.connect(server).await?;
    if let Err(e) = socket.send(&wire).await {
        return refused_or(e);
    }
    let wait = async {
        let mut buf = [0u8; 4096];
        loop {
            let n = match socket.recv(&mut buf).await {
                Ok(n) => n,
                Err(e) => return refused_or(e),
            };
            // A stray or garbled datagram is not an answer to us; keep waiting.
            if let Ok(reply) = Message::from_vec(&buf[..n])
                && reply.metadata.id == id
                && reply.metadata.message_type == MessageType::Response
            {
                return Ok(Some(reply));
            }
        }
    };
    match tokio::time::timeout(timeout, wait).await {
        Ok(r) => r,
        Err(_) => Ok(None),
    }
}

fn refused_or<T>(e: std::io::Error) -> Result<Option<T>, LivenessError> {
    match e.kind() {
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset => Ok(None),
        _ => Err(e.into()),
    }
}
