//! Each network zone's A records as the server lists them, read once per zone (one paged
//! list) for a report: the consistency report's CC-2 (§6.2, microdns-api.md R11) and DNS
//! validation (R12). Reads only; a zone whose endpoint failed its health check (L-5) is not
//! asked again until it answers.

use super::DnsActor;
use super::expected::ZoneWant;
use super::sync::recorded_id;
use crate::config::Network;
use crate::microdns::{MicrodnsClient, MicrodnsError};
use actix::prelude::*;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// name → the addresses of its A records, in list order.
pub type ARecords = BTreeMap<String, Vec<Ipv4Addr>>;

/// What reading one network's zone gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneListing {
    /// An `externalDNS` network: never contacted (R13).
    External,
    /// No zone id recorded for the configured endpoint and zone (not initialised yet).
    NoZoneId,
    /// The list failed; the text says why.
    Failed(String),
    /// `records` records in all, the A records by name.
    Listed { records: usize, a: ARecords },
}

/// The listing of every network with a DNS endpoint and a zone, in config order.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Vec<(String, ZoneListing)>")]
pub struct ListZones;

/// Networks with an endpoint and a zone (CC-2's scope), `externalDNS` ones included.
pub fn zoned_networks(networks: &[Network]) -> impl Iterator<Item = &Network> {
    networks
        .iter()
        .filter(|n| !n.dns.endpoint.trim().is_empty() && !n.dns.zone.trim().is_empty())
}

/// One paged list of a zone, reduced to its A records.
pub async fn a_records(
    client: &MicrodnsClient,
    endpoint: &str,
    zone_id: &str,
) -> Result<(usize, ARecords), MicrodnsError> {
    let records = client.list_records(endpoint, zone_id).await?;
    let mut a = ARecords::new();
    for r in records.iter().filter(|r| r.kind() == "A") {
        if let Some(ip) = r.value_str().and_then(|v| v.trim().parse().ok()) {
            a.entry(r.name.clone()).or_default().push(ip);
        }
    }
    Ok((records.len(), a))
}

impl Handler<ListZones> for DnsActor {
    type Result = ResponseFuture<Vec<(String, ZoneListing)>>;

    fn handle(&mut self, _: ListZones, _: &mut Context<Self>) -> Self::Result {
        let client = self.client.clone();
        let gate = self.gate.clone();
        let jobs: Vec<_> = zoned_networks(&self.config.networks)
            .map(|network| {
                let want = ZoneWant::empty(network, None);
                let id = recorded_id(&self.state, &want).cloned();
                let gated = self.unhealthy.contains(&want.endpoint);
                let external = network.external_dns;
                let (client, gate) = (client.clone(), gate.clone());
                let name = network.name.clone();
                async move {
                    let listing = match (external, id, client) {
                        (true, _, _) => ZoneListing::External,
                        (false, None, _) => ZoneListing::NoZoneId,
                        (false, Some(_), None) => ZoneListing::Failed("no microdns client".into()),
                        (false, Some(id), Some(client)) => {
                            if gated && !gate.lock().await.is_healthy(&client, &want.endpoint).await
                            {
                                ZoneListing::Failed(
                                    "endpoint unhealthy (health check failed)".into(),
                                )
                            } else {
                                match a_records(&client, &want.endpoint, &id).await {
                                    Ok((records, a)) => ZoneListing::Listed { records, a },
                                    Err(e) => ZoneListing::Failed(e.to_string()),
                                }
                            }
                        }
                    };
                    (name, listing)
                }
            })
            .collect();
        Box::pin(futures::future::join_all(jobs))
    }
}
