//! The per-pass zone sync (DNS-1, reconcile steps 6 and 7, R8, R9, R10 with L-8): for every
//! zone mkube maintains (each network's own zone and the namespace zones pods name), one
//! paged record list, then only the writes the plan asks for. Zones run concurrently, so a
//! dead endpoint costs its own zone one timeout and delays no other. An endpoint that failed
//! is gated by its health check (L-5) until it answers again; that is the actor's own state,
//! not a process-wide flag.

use super::DnsActor;
use super::expected::{ZoneWant, expected_zones, is_managed};
use super::plan::{Observed, ZonePlan, plan_zone};
use super::state::DnsState;
use crate::actors::pods::state::PodsState;
use crate::config::Config;
use crate::events::catalogue::DnsEvent;
use crate::microdns::{MicrodnsClient, MicrodnsError, Record};
use actix::prelude::*;
use std::collections::{BTreeMap, HashSet};
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
    /// Set for a namespace zone.
    pub namespace: Option<String>,
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
        let retired = retired_zones(&self.config, &self.state, &wants);
        let wants = wants.into_iter().map(|want| {
            let id = zone_id(&self.state, &want, &self.bootstrapped);
            (want, id)
        });
        let jobs: Vec<_> = wants
            .chain(retired)
            .map(|(want, id)| {
                let registered = registered_in(&self.state, &want.zone);
                let gated = self.unhealthy.contains(&want.endpoint);
                let (client, gate) = (client.clone(), self.gate.clone());
                async move {
                    if gated && !gate.lock().await.is_healthy(&client, &want.endpoint).await {
                        return skipped(&want, "endpoint unhealthy (health check failed)");
                    }
                    sync_zone(&client, &want, id, &registered).await
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
                self.bootstrapped
                    .insert((report.network.clone(), report.zone.clone()));
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
            error: Some(format!("{TRANSPORT}{why}")),
            ..report_of(want)
        },
        events: Vec::new(),
    }
}

fn report_of(want: &ZoneWant) -> ZoneReport {
    ZoneReport {
        network: want.network.clone(),
        namespace: want.namespace.clone(),
        zone: want.zone.clone(),
        ..ZoneReport::default()
    }
}

/// How the pass gets a zone's id.
enum ZoneId {
    /// Bootstrapped by this process and still as configured: used as is; a 404 (a server
    /// that restarted empty) bootstraps again.
    Known(String),
    /// Found by name or created (and the binding recorded).
    Bootstrap,
    /// A namespace zone no pod names any more that still holds names mkube registered: the
    /// recorded id is used to delete them (L-8); a zone that is gone is not recreated.
    Retired(String),
}

/// (network, zone) pairs this process bound since boot.
pub(super) type Bootstrapped = HashSet<(String, String)>;

/// The id the log holds for `want`'s zone, while the recorded endpoint and zone still match
/// the config.
pub(super) fn recorded_id<'a>(state: &'a DnsState, want: &ZoneWant) -> Option<&'a String> {
    match &want.namespace {
        None => state
            .zones
            .get(&want.network)
            .filter(|z| z.endpoint == want.endpoint && z.zone == want.zone)
            .map(|z| &z.zone_id),
        Some(ns) => state
            .namespace_zones
            .get(&want.zone)
            .filter(|z| z.endpoint == want.endpoint && &z.namespace == ns)
            .map(|z| &z.zone_id),
    }
}

/// The zone id to use without asking: only after this process bootstrapped the zone once
/// (every boot re-checks, so a stale persisted endpoint or id is corrected).
fn zone_id(state: &DnsState, want: &ZoneWant, bootstrapped: &Bootstrapped) -> ZoneId {
    match recorded_id(state, want) {
        Some(id) if bootstrapped.contains(&(want.network.clone(), want.zone.clone())) => {
            ZoneId::Known(id.clone())
        }
        _ => ZoneId::Bootstrap,
    }
}

/// Namespace zones that no pod names any more but that still hold records mkube registered,
/// on an endpoint the config still manages: synced with no records wanted, so the pass
/// removes what a missed delete left behind.
fn retired_zones(config: &Config, state: &DnsState, wants: &[ZoneWant]) -> Vec<(ZoneWant, ZoneId)> {
    state
        .namespace_zones
        .iter()
        .filter(|(zone, _)| wants.iter().all(|w| &w.zone != *zone))
        .filter(|(zone, _)| state.records.get(*zone).is_some_and(|r| !r.is_empty()))
        .filter_map(|(zone, bound)| {
            let network = config.network_named(&bound.network)?;
            let here = is_managed(network) && network.dns.endpoint_base() == bound.endpoint;
            here.then(|| {
                let want = ZoneWant {
                    zone: zone.clone(),
                    ..ZoneWant::empty(network, Some(&bound.namespace))
                };
                (want, ZoneId::Retired(bound.zone_id.clone()))
            })
        })
        .collect()
}

/// name → address → record id mkube registered in one zone.
pub(super) type Registered = BTreeMap<String, BTreeMap<Ipv4Addr, String>>;

/// What mkube registered in `zone`.
pub(super) fn registered_in(state: &DnsState, zone: &str) -> Registered {
    let mut out = Registered::new();
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
    id: ZoneId,
    registered: &Registered,
) -> ZoneOutcome {
    let mut outcome = ZoneOutcome {
        report: report_of(want),
        events: Vec::new(),
    };
    let (zone_id, listed) = match list_zone(client, want, id, &mut outcome.events).await {
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
/// restarted empty answers 404) is re-bootstrapped once; a retired zone that is gone holds
/// nothing any more.
async fn list_zone(
    client: &MicrodnsClient,
    want: &ZoneWant,
    id: ZoneId,
    events: &mut Vec<DnsEvent>,
) -> Result<(String, Vec<Record>), MicrodnsError> {
    match id {
        ZoneId::Known(id) => match client.list_records(&want.endpoint, &id).await {
            Ok(records) => return Ok((id, records)),
            Err(MicrodnsError::Status { code: 404, .. }) => {}
            Err(e) => return Err(e),
        },
        ZoneId::Retired(id) => {
            return match client.list_records(&want.endpoint, &id).await {
                Err(MicrodnsError::Status { code: 404, .. }) => Ok((id, Vec::new())),
                other => other.map(|records| (id, records)),
            };
        }
        ZoneId::Bootstrap => {}
    }
    let id = bind_zone(client, want, events).await?;
    let records = client.list_records(&want.endpoint, &id).await?;
    Ok((id, records))
}

/// Finds the zone by name or creates it, and records the binding.
pub(super) async fn bind_zone(
    client: &MicrodnsClient,
    want: &ZoneWant,
    events: &mut Vec<DnsEvent>,
) -> Result<String, MicrodnsError> {
    let id = client.ensure_zone(&want.endpoint, &want.zone).await?;
    events.push(DnsEvent::ZoneBound {
        network: want.network.clone(),
        zone: want.zone.clone(),
        zone_id: id.clone(),
        endpoint: want.endpoint.clone(),
        namespace: want.namespace.clone(),
    });
    Ok(id)
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
