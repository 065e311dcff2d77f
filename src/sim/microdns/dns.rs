//! Authoritative DNS responder over the same store (spec microdns-api.md §5 item 9),
//! UDP and TCP, wire format by hickory-proto.
//!
//! Rules: the query name is lowercased and compared exactly with `<record name>.<zone>`,
//! so stored uppercase names never resolve (§1.7). Outside every zone: REFUSED. Missing
//! name in a known zone: NXDOMAIN with the zone SOA in the authority section. Type miss:
//! NXDOMAIN in `feb2026`, NOERROR (no data, SOA in authority) in `current`. Zone choice:
//! first match in zone-id order (`feb2026`) or the most specific zone (`current`).
//! Wildcards: `*` answers any one-label name, `*.x` any `<label>.x`, when no exact name exists.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::MicrodnsVersion;
use super::shared::Shared;
use super::store::{Store, Zone};

fn fqdn(s: &str) -> Option<Name> {
    let s = s.trim_end_matches('.');
    Name::from_ascii(format!("{s}.")).ok()
}

fn soa_record(z: &Zone) -> Option<Record> {
    let s = &z.soa;
    let i = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    let rdata = SOA::new(
        fqdn(&s.mname)?,
        fqdn(&s.rname)?,
        s.serial,
        i(s.refresh),
        i(s.retry),
        i(s.expire),
        s.minimum,
    );
    Some(Record::from_rdata(
        fqdn(&z.name)?,
        s.minimum,
        RData::SOA(rdata),
    ))
}

fn rdata(rtype: &str, data: &Value) -> Option<RData> {
    let v = data.get("data")?;
    let s = || v.as_str();
    let n = |k: &str| v.get(k).and_then(Value::as_u64);
    let name = |k: &str| v.get(k).and_then(Value::as_str).and_then(fqdn);
    Some(match rtype {
        "A" => RData::A(A(s()?.parse::<Ipv4Addr>().ok()?)),
        "AAAA" => RData::AAAA(AAAA(s()?.parse::<Ipv6Addr>().ok()?)),
        "CNAME" => RData::CNAME(CNAME(fqdn(s()?)?)),
        "NS" => RData::NS(NS(fqdn(s()?)?)),
        "PTR" => RData::PTR(PTR(fqdn(s()?)?)),
        "TXT" => RData::TXT(TXT::new(vec![s()?.to_string()])),
        "MX" => RData::MX(MX::new(
            u16::try_from(n("preference")?).ok()?,
            name("exchange")?,
        )),
        "SRV" => RData::SRV(SRV::new(
            u16::try_from(n("priority")?).ok()?,
            u16::try_from(n("weight")?).ok()?,
            u16::try_from(n("port")?).ok()?,
            name("target")?,
        )),
        _ => return None,
    })
}

/// The zone answering `qname` (lowercase, no trailing dot) and the name relative to it.
fn pick_zone<'a>(
    st: &'a Store,
    qname: &str,
    version: MicrodnsVersion,
) -> Option<(&'a Zone, String)> {
    let mut hits = st.zones_sorted().into_iter().filter_map(|z| {
        if qname == z.name {
            Some((z, "@".to_string()))
        } else {
            qname
                .strip_suffix(&z.name)
                .and_then(|p| p.strip_suffix('.'))
                .map(|p| (z, p.to_string()))
        }
    });
    match version {
        MicrodnsVersion::Feb2026 => hits.next(),
        MicrodnsVersion::Current => hits.max_by_key(|(z, _)| z.name.len()),
    }
}

/// Builds the reply to one query message.
pub fn answer(st: &Store, version: MicrodnsVersion, req: &Message) -> Message {
    let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.add_queries(req.queries.iter().cloned());
    let Some(q) = req.queries.first() else {
        resp.metadata.response_code = ResponseCode::FormErr;
        return resp;
    };
    if req.metadata.op_code != OpCode::Query || req.metadata.message_type != MessageType::Query {
        resp.metadata.response_code = ResponseCode::NotImp;
        return resp;
    }
    let qname = q.name().to_ascii().to_ascii_lowercase();
    let qname = qname.trim_end_matches('.');
    let Some((zone, rel)) = pick_zone(st, qname, version) else {
        resp.metadata.response_code = ResponseCode::Refused;
        return resp;
    };
    resp.metadata.authoritative = true;
    let qtype = q.query_type();
    let owner = q.name().clone();
    let zone_recs = st.zone_records(&zone.id);
    let named = |n: &str| -> Vec<_> {
        zone_recs
            .iter()
            .filter(|r| r.enabled && r.name == n)
            .copied()
            .collect()
    };
    let mut recs = named(&rel);
    if recs.is_empty() && rel != "@" {
        // Wildcard: `*` covers one-label names, `*.<parent>` the names under parent.
        recs = match rel.split_once('.') {
            Some((_, parent)) => named(&format!("*.{parent}")),
            None => named("*"),
        };
    }
    let mut answers = Vec::new();
    if rel == "@" && qtype == RecordType::SOA {
        answers.extend(soa_record(zone));
    }
    for r in &recs {
        let wanted =
            r.rtype == qtype.to_string() || (r.rtype == "CNAME" && qtype != RecordType::CNAME);
        if wanted && let Some(d) = rdata(&r.rtype, &r.data) {
            answers.push(Record::from_rdata(owner.clone(), r.ttl, d));
        }
    }
    if !answers.is_empty() {
        resp.add_answers(answers);
        return resp;
    }
    let exists = rel == "@" || !recs.is_empty();
    if !exists || version == MicrodnsVersion::Feb2026 && rel != "@" {
        resp.metadata.response_code = ResponseCode::NXDomain;
    }
    resp.add_authorities(soa_record(zone));
    resp
}

fn reply_bytes(sh: &Shared, packet: &[u8]) -> Option<Vec<u8>> {
    let req = Message::from_vec(packet).ok()?;
    let resp = {
        let st = sh.store();
        answer(&st, sh.version, &req)
    };
    resp.to_vec().ok()
}

/// Binds UDP (and TCP on the same port when free); returns the UDP address.
pub async fn start(
    sh: Arc<Shared>,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, Vec<tokio::task::JoinHandle<()>>)> {
    let (udp, tcp) = bind_pair(addr).await?;
    let local = udp.local_addr()?;
    let mut tasks = Vec::new();
    let sh2 = sh.clone();
    tasks.push(tokio::task::spawn_local(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = udp.recv_from(&mut buf).await else {
                continue;
            };
            if let Some(out) = reply_bytes(&sh2, &buf[..n]) {
                let _ = udp.send_to(&out, peer).await;
            }
        }
    }));
    match tcp {
        Ok(tcp) => tasks.push(tokio::task::spawn_local(async move {
            while let Ok((conn, _)) = tcp.accept().await {
                tokio::task::spawn_local(serve_tcp(sh.clone(), conn));
            }
        })),
        Err(e) => tracing::warn!(error = %e, %local, "microdns-sim: DNS over TCP not available"),
    }
    Ok((local, tasks))
}

/// UDP on `addr` and TCP on the port UDP got. With port 0 the kernel picks a UDP port whose
/// TCP twin may be taken by someone else; then it picks again, so both share one port.
async fn bind_pair(
    addr: SocketAddr,
) -> std::io::Result<(
    tokio::net::UdpSocket,
    std::io::Result<tokio::net::TcpListener>,
)> {
    let mut attempts = if addr.port() == 0 { 20 } else { 1 };
    loop {
        let udp = tokio::net::UdpSocket::bind(addr).await?;
        let tcp = tokio::net::TcpListener::bind(udp.local_addr()?).await;
        attempts -= 1;
        if tcp.is_ok() || attempts == 0 {
            return Ok((udp, tcp));
        }
    }
}

async fn serve_tcp(sh: Arc<Shared>, mut conn: tokio::net::TcpStream) {
    loop {
        let Ok(len) = conn.read_u16().await else {
            return;
        };
        let mut buf = vec![0u8; usize::from(len)];
        if conn.read_exact(&mut buf).await.is_err() {
            return;
        }
        let Some(out) = reply_bytes(&sh, &buf) else {
            return;
        };
        let Ok(n) = u16::try_from(out.len()) else {
            return;
        };
        if conn.write_u16(n).await.is_err() || conn.write_all(&out).await.is_err() {
            return;
        }
    }
}
