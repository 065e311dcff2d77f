//! The per-pass zone sync (DNS-1, reconcile steps 6 and 7, R8, R10 with L-8): for every zone
//! mkube maintains, one paged record list, then only the writes the plan asks for. Zones run
//! concurrently, so a dead endpoint costs its own zone one timeout and delays no other. An
//! endpoint that failed is gated by its health check (L-5) until it answers again; that is
//! the actor's own state, not a process-wide flag.

use super::DnsActor;
use super::expected::{ZoneWant, expected_zones};
use super::plan::{Observed, ZonePlan, plan_zone};
use super::state::DnsState;
use crate::actors::pods::state::PodsState;
use crate::events::catalogue::DnsEvent;
use crate::microdns::{MicrodnsClient, MicrodnsError, Record};
use actix::prelude::*;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Bring every managed zone in line with the desired pods and the config.
#[derive(Debug, Message)]
#[rtype(result = "DnsPassReport")]
pub struct SyncZones {
    pub pods: Arc<PodsState>,
    pub correlation: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsPassReport {
    pub zones: Vec<ZoneReport>,
}

impl DnsPassReport {
    pub fn writes(&self) -> usize {
        self.zones.iter().map(|z| z.created + z.deleted).sum()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneReport {
    pub network: String,
    pub zone: String,
    pub records: usize,
    pub created: usize,
    pub deleted: usize,
    pub adopted: usize,
    /// Why the zone was not (fully) synced; `None` when it was.
    pub error: Option<String>,
    /// An `externalDNS` network (R13): never contacted, reported as passing.
    pub external: bool,
}

/// What one zone's effects produced: its report and the facts to record.
pub(super) struct ZoneOutcome {
    pub report: ZoneReport,
    pub events: Vec<DnsEvent>,
}

impl Handler<SyncZones> for DnsActor {
    type Result = AtomicResponse<Self, DnsPassReport>;

    fn handle(&mut self, msg: SyncZones, _: &mut Context<Self>) -> Self::Result {
        let wants = expected_zones(&self.config, &msg.pods);
        let Some(client) = self.client.clone() else {
            return AtomicResponse::new(Box::pin(fut::ready(DnsPassReport::default())));
        };
        let jobs: Vec<_> = wants
            .into_iter()
            .map(|want| {
                let known = known_zone_id(&self.state, &want, &self.bootstrapped);
                let registered = registered_in(&self.state, &want.zone);
                let gated = self.unhealthy.contains(&want.endpoint);
                let (client, gate) = (client.clone(), self.gate.clone());
                async move {
                    if gated && !gate.lock().await.is_healthy(&client, &want.endpoint).await {
                        return skipped(&want, "endpoint unhealthy (health check failed)");
                    }
                    sync_zone(&client, &want, known, &registered).await
                }
            })
            .collect();
        let correlation = msg.correlation;
        let external: Vec<ZoneReport> = self
            .config
            .networks
            .iter()
            .filter(|n| n.external_dns && !n.dns.zone.trim().is_empty())
            .map(|n| ZoneReport {
                network: n.name.clone(),
                zone: n.dns.zone.trim().to_string(),
                external: true,
                ..ZoneReport::default()
            })
            .collect();
        let work = futures::future::join_all(jobs).into_actor(self);
        AtomicResponse::new(Box::pin(work.then(move |outcomes, act, _| {
            let mut reports = external;
            let mut events = Vec::new();
            for o in outcomes {
                act.note_endpoint(&o.report);
                reports.push(o.report);
                events.extend(o.events);
            }
            super::record::commit_all(act, events, correlation)
                .map(move |_, _, _| DnsPassReport { zones: reports })
        })))
    }
}

impl DnsActor {
    /// Remember which zones were bootstrapped and which endpoints failed in this pass.
    fn note_endpoint(&mut self, report: &ZoneReport) {
        let endpoint = self
            .config
            .network_named(&report.network)
            .map(|n| n.dns.endpoint.trim().trim_end_matches('/').to_string())
            .unwrap_or_default();
        match &report.error {
            None => {
                self.bootstrapped.insert(report.network.clone());
                if self.unhealthy.remove(&endpoint) {
                    tracing::info!(endpoint, "microdns endpoint answers again");
                }
            }
            Some(e) if e.starts_with(TRANSPORT) => {
                if self.unhealthy.insert(endpoint.clone()) {
                    tracing::warn!(endpoint, error = %e, "microdns endpoint unreachable; gated by its health check");
                }
            }
            Some(_) => {}
        }
    }
}

const TRANSPORT: &str = "unreachable: ";

fn skipped(want: &ZoneWant, why: &str) -> ZoneOutcome {
    ZoneOutcome {
        report: ZoneReport {
            network: want.network.clone(),
            zone: want.zone.clone(),
            error: Some(format!("{TRANSPORT}{why}")),
            ..ZoneReport::default()
        },
        events: Vec::new(),
    }
}

/// The zone id to use without asking: only after this process bootstrapped the zone once
/// (every boot re-checks, so a stale persisted endpoint or id is corrected) and only while
/// the recorded endpoint and zone still match the config.
fn known_zone_id(
    state: &DnsState,
    want: &ZoneWant,
    bootstrapped: &std::collections::HashSet<String>,
) -> Option<String> {
    let zone = state.zones.get(&want.network)?;
    let same = zone.endpoint == want.endpoint && zone.zone == want.zone;
    (same && bootstrapped.contains(&want.network)).then(|| zone.zone_id.clone())
}

/// name → address → record id mkube registered in `zone`.
pub(super) fn registered_in(
    state: &DnsState,
    zone: &str,
) -> BTreeMap<String, BTreeMap<Ipv4Addr, String>> {
    let mut out: BTreeMap<String, BTreeMap<Ipv4Addr, String>> = BTreeMap::new();
    for (name, ips) in state.records.get(zone).into_iter().flatten() {
        for (ip, rec) in ips {
            if let Ok(ip) = ip.parse() {
                out.entry(name.clone())
                    .or_default()
                    .insert(ip, rec.record_id.clone());
            }
        }
    }
    out
}

fn describe(e: &MicrodnsError) -> String {
    if e.is_transport() {
        format!("{TRANSPORT}{e}")
    } else {
        e.to_string()
    }
}

async fn sync_zone(
    client: &MicrodnsClient,
    want: &ZoneWant,
    known: Option<String>,
    registered: &BTreeMap<String, BTreeMap<Ipv4Addr, String>>,
) -> ZoneOutcome {
    let mut outcome = ZoneOutcome {
        report: ZoneReport {
            network: want.network.clone(),
            zone: want.zone.clone(),
            ..ZoneReport::default()
        },
        events: Vec::new(),
    };
    let (zone_id, listed) = match list_zone(client, want, known, &mut outcome.events).await {
        Ok(found) => found,
        Err(e) => {
            outcome.report.error = Some(describe(&e));
            return outcome;
        }
    };
    outcome.report.records = listed.len();
    let observed: Vec<Observed> = listed.iter().map(observed).collect();
    let plan = plan_zone(&want.records, &observed, registered);
    if let Err(e) = apply_plan(client, want, &zone_id, &plan, &mut outcome).await {
        outcome.report.error = Some(describe(&e));
    }
    outcome
}

/// The zone's id and records. A cached id the server no longer knows (a microdns that
/// restarted empty answers 404) is re-bootstrapped once.
async fn list_zone(
    client: &MicrodnsClient,
    want: &ZoneWant,
    known: Option<String>,
    events: &mut Vec<DnsEvent>,
) -> Result<(String, Vec<Record>), MicrodnsError> {
    if let Some(id) = known {
        match client.list_records(&want.endpoint, &id).await {
            Ok(records) => return Ok((id, records)),
            Err(MicrodnsError::Status { code: 404, .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let id = client.ensure_zone(&want.endpoint, &want.zone).await?;
    events.push(DnsEvent::ZoneBound {
        network: want.network.clone(),
        zone: want.zone.clone(),
        zone_id: id.clone(),
        endpoint: want.endpoint.clone(),
    });
    let records = client.list_records(&want.endpoint, &id).await?;
    Ok((id, records))
}

fn observed(r: &Record) -> Observed {
    Observed {
        id: r.id.clone(),
        name: r.name.clone(),
        rtype: r.kind().to_string(),
        value: r.value_str().unwrap_or_default().to_string(),
        ttl: r.ttl,
    }
}

/// Deletes first (an address moving between names must not be doubled), then creates. A
/// transport failure stops the zone (the endpoint is gone for this pass); a refused single
/// write is logged and the rest goes on.
async fn apply_plan(
    client: &MicrodnsClient,
    want: &ZoneWant,
    zone_id: &str,
    plan: &ZonePlan,
    outcome: &mut ZoneOutcome,
) -> Result<(), MicrodnsError> {
    let zone = &want.zone;
    for (name, ip) in &plan.forget {
        outcome.events.push(DnsEvent::RecordDeregistered {
            zone: zone.clone(),
            name: name.clone(),
            ip: *ip,
        });
    }
    for (name, ip, id, ttl) in &plan.adopt {
        outcome.report.adopted += 1;
        outcome.events.push(DnsEvent::RecordRegistered {
            zone: zone.clone(),
            name: name.clone(),
            ip: *ip,
            record_id: id.clone(),
            ttl: *ttl,
        });
    }
    for (id, name, ip) in &plan.delete {
        match client.delete_record(&want.endpoint, zone_id, id).await {
            Ok(()) | Err(MicrodnsError::Status { code: 404, .. }) => {}
            Err(e) if e.is_transport() => return Err(e),
            Err(e) => {
                tracing::warn!(zone, name, %ip, error = %e, "deleting a DNS record failed");
                continue;
            }
        }
        outcome.report.deleted += 1;
        outcome.events.push(DnsEvent::RecordDeregistered {
            zone: zone.clone(),
            name: name.clone(),
            ip: *ip,
        });
    }
    for (name, w) in &plan.create {
        let ip = w.ip.to_string();
        match client
            .create_a_record(&want.endpoint, zone_id, name, &ip, w.ttl)
            .await
        {
            Ok((record, _)) => {
                outcome.report.created += 1;
                outcome.events.push(DnsEvent::RecordRegistered {
                    zone: zone.clone(),
                    name: name.clone(),
                    ip: w.ip,
                    record_id: record.id,
                    ttl: w.ttl,
                });
            }
            Err(e) if e.is_transport() => return Err(e),
            Err(e) => {
                tracing::warn!(zone, name, %ip, error = %e, "registering a DNS record failed")
            }
        }
    }
    Ok(())
}
