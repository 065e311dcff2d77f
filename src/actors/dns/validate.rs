//! DNS validation (R12, `GET /api/v1/dns/validate`): what the zones hold against what mkube
//! expects, and whether each network's DNS server resolves the other networks' names. Reads
//! only. Unlike the pass it does not treat `externalDNS` specially: a network without a known
//! zone id fails.

use super::DnsActor;
use super::expected::zone_want;
use super::listing::{a_records, zoned_networks};
use crate::actors::checks::{Check, Status};
use crate::actors::pods::state::PodsState;
use crate::config::{Config, Network};
use crate::microdns::MicrodnsClient;
use crate::microdns::liveness::resolve_a;
use actix::prelude::*;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// R12's limit for a forward lookup.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(3);

/// Validate every network with an endpoint and a zone.
#[derive(Debug, Message)]
#[rtype(result = "Vec<Check>")]
pub struct Validate {
    pub pods: Arc<PodsState>,
}

impl Handler<Validate> for DnsActor {
    type Result = ResponseFuture<Vec<Check>>;

    fn handle(&mut self, msg: Validate, _: &mut Context<Self>) -> Self::Result {
        let config = self.config.clone();
        let client = self.client.clone();
        let zone_ids: BTreeMap<String, String> = self
            .state
            .zones
            .iter()
            .map(|(net, z)| (net.clone(), z.zone_id.clone()))
            .collect();
        Box::pin(async move {
            let mut out = Vec::new();
            for network in zoned_networks(&config.networks) {
                out.extend(
                    zone_checks(&config, network, &msg.pods, &zone_ids, client.as_ref()).await,
                );
            }
            out.extend(forward_checks(&config).await);
            out
        })
    }
}

async fn zone_checks(
    config: &Config,
    network: &Network,
    pods: &PodsState,
    zone_ids: &BTreeMap<String, String>,
    client: Option<&MicrodnsClient>,
) -> Vec<Check> {
    let net = &network.name;
    let reachable = format!("zone/{net}/reachable");
    let (Some(id), Some(client)) = (zone_ids.get(net), client) else {
        return vec![Check::new(
            reachable,
            Status::Fail,
            "zone ID not known (DNS not initialized)",
            String::new(),
        )];
    };
    let endpoint = network.dns.endpoint.trim().trim_end_matches('/');
    let (records, actual) = match a_records(client, endpoint, id).await {
        Ok(listed) => listed,
        Err(e) => {
            return vec![Check::new(
                reachable,
                Status::Fail,
                "zone unreachable",
                e.to_string(),
            )];
        }
    };
    let mut out = vec![Check::new(
        reachable,
        Status::Pass,
        "zone reachable",
        format!("records={records}"),
    )];
    for (name, want) in zone_want(config, network, pods).records {
        let got = actual.get(&name).cloned().unwrap_or_default();
        let label = format!("zone/{net}/{}/{name}", want.kind);
        out.push(if got.contains(&want.ip) {
            Check::new(
                label,
                Status::Pass,
                "record correct",
                format!("ip={}", want.ip),
            )
        } else if got.is_empty() {
            Check::new(
                label,
                Status::Fail,
                "DNS record missing",
                format!("expected A record -> {}", want.ip),
            )
        } else {
            Check::new(
                label,
                Status::Fail,
                "DNS record has wrong IP",
                format!("expected={} actual={got:?}", want.ip),
            )
        });
    }
    for (name, ips) in &actual {
        let mut seen = std::collections::BTreeSet::new();
        if let Some(ip) = ips.iter().find(|ip| !seen.insert(**ip)) {
            out.push(Check::new(
                format!("zone/{net}/duplicate/{name}"),
                Status::Warn,
                "the same address is registered twice",
                format!("ip={ip}"),
            ));
        }
    }
    out
}

/// `forward/<src>-><dst>/rose1`: each network's DNS server (port 53) asked for `rose1.<dst
/// zone>` of every other network.
async fn forward_checks(config: &Config) -> Vec<Check> {
    let servers: Vec<(&str, Ipv4Addr, &str)> = config
        .networks
        .iter()
        .filter_map(|n| Some((n.name.as_str(), n.dns_server_ip()?, n.dns.zone.trim())))
        .filter(|(_, _, zone)| !zone.is_empty())
        .collect();
    let mut jobs = Vec::new();
    for (src, server, _) in &servers {
        for (dst, _, zone) in servers.iter().filter(|(d, _, _)| d != src) {
            let label = format!("forward/{src}->{dst}/rose1");
            let qname = format!("rose1.{zone}.");
            let addr = SocketAddr::from((*server, 53));
            jobs.push(async move {
                match resolve_a(addr, &qname, FORWARD_TIMEOUT).await {
                    Ok(Some(ips)) if !ips.is_empty() => Check::new(
                        label,
                        Status::Pass,
                        "resolved",
                        format!("{qname} -> {ips:?}"),
                    ),
                    Ok(Some(_)) => Check::new(
                        label,
                        Status::Fail,
                        "no address in the answer",
                        format!("{qname} at {addr}"),
                    ),
                    Ok(None) => Check::new(
                        label,
                        Status::Fail,
                        "no answer",
                        format!("{qname} at {addr}"),
                    ),
                    Err(e) => Check::new(label, Status::Fail, "lookup failed", e.to_string()),
                }
            });
        }
    }
    futures::future::join_all(jobs).await
}
