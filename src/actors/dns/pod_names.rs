//! A pod's own names, outside the pass (R9): registered once its containers have addresses,
//! removed when it is deleted, in its network's zone and in its `vkube.io/namespace`'s zone
//! (issue 11 item 7). Both work from what the log says mkube registered, so a pod whose
//! names are already in place costs no HTTP call at all; the pass repairs whatever these miss
//! (an unreachable endpoint, a zone not bootstrapped yet).

use super::DnsActor;
use super::expected::{ZoneWant, managed_pod_zones, pod_records};
use super::sync::{Registered, bind_zone, recorded_id, registered_in};
use crate::actors::pods::settled::PodSettled;
use crate::events::catalogue::DnsEvent;
use crate::microdns::{MicrodnsClient, MicrodnsError};
use crate::pod::DesiredPod;
use actix::prelude::*;
use std::net::Ipv4Addr;

/// Register the pod, container and alias names of a pod whose containers have addresses.
#[derive(Debug, Message)]
#[rtype(result = "usize")]
pub struct RegisterPod {
    pub pod: DesiredPod,
    pub correlation: String,
}

/// Remove the names of a pod being deleted: only the records carrying its addresses, so
/// another pod's round-robin entry under a shared alias survives (R6).
#[derive(Debug, Message)]
#[rtype(result = "usize")]
pub struct DeregisterPod {
    pub pod: DesiredPod,
    pub correlation: String,
}

/// A pod's job ended (`pods::settled`): register its names once its containers have
/// addresses, deregister them once it is gone.
impl Handler<PodSettled> for DnsActor {
    type Result = ();

    fn handle(&mut self, msg: PodSettled, ctx: &mut Context<Self>) {
        let correlation = format!("pod/{}", msg.key);
        match (msg.after, msg.before) {
            (Some(pod), _) if has_address(&pod) => ctx.notify(RegisterPod { pod, correlation }),
            (Some(_), _) => {}
            (None, Some(pod)) if has_address(&pod) => {
                ctx.notify(DeregisterPod { pod, correlation })
            }
            (None, _) => {}
        }
    }
}

fn has_address(pod: &DesiredPod) -> bool {
    pod.containers
        .values()
        .any(|c| !c.removing && !c.ip.is_empty())
}

/// A record to delete: (name, address, record id).
type Doomed = (String, Ipv4Addr, String);

/// One zone of the pod's, with the id the log holds for it and what mkube registered there.
struct Target {
    want: ZoneWant,
    zone_id: Option<String>,
    registered: Registered,
}

/// The managed zones the pod's names go to, each with the id the log holds for it when it
/// was bound on the endpoint the config names.
fn targets(act: &DnsActor, pod: &DesiredPod) -> Vec<Target> {
    let state = &act.state;
    managed_pod_zones(&act.config, &pod.pod)
        .into_iter()
        .map(|want| {
            let zone_id = recorded_id(state, &want).cloned();
            let registered = registered_in(state, &want.zone);
            Target {
                want,
                zone_id,
                registered,
            }
        })
        .collect()
}

impl Handler<RegisterPod> for DnsActor {
    type Result = AtomicResponse<Self, usize>;

    fn handle(&mut self, msg: RegisterPod, _: &mut Context<Self>) -> Self::Result {
        let Some(client) = self.client.clone() else {
            return AtomicResponse::new(Box::pin(fut::ready(0)));
        };
        let targets = targets(self, &msg.pod);
        let records = pod_records(&msg.pod);
        let work = async move {
            let mut events = Vec::new();
            let mut bound = Vec::new();
            for target in targets {
                let want = &target.want;
                let zone_id = match (target.zone_id, &want.namespace) {
                    (Some(id), _) => id,
                    // A network zone not bound yet: the pass bootstraps it.
                    (None, None) => continue,
                    // mkube has no zone operator: it finds or creates the namespace zone
                    // itself, on the network's microdns.
                    (None, Some(_)) => match bind_zone(&client, want, &mut events).await {
                        Ok(id) => {
                            bound.push((want.network.clone(), want.zone.clone()));
                            id
                        }
                        Err(e) => {
                            tracing::warn!(zone = want.zone, error = %e, "namespace zone not available; the next pass retries");
                            continue;
                        }
                    },
                };
                let zone = Zone {
                    client: &client,
                    endpoint: &want.endpoint,
                    name: &want.zone,
                    id: &zone_id,
                };
                zone.register(&records, &target.registered, &mut events)
                    .await;
            }
            (events, bound)
        };
        let correlation = msg.correlation;
        AtomicResponse::new(Box::pin(work.into_actor(self).then(
            move |(events, bound), act, _| {
                act.bootstrapped.extend(bound);
                super::record::commit_all(act, events, correlation)
            },
        )))
    }
}

impl Handler<DeregisterPod> for DnsActor {
    type Result = AtomicResponse<Self, usize>;

    fn handle(&mut self, msg: DeregisterPod, _: &mut Context<Self>) -> Self::Result {
        let Some(client) = self.client.clone() else {
            return AtomicResponse::new(Box::pin(fut::ready(0)));
        };
        let records = pod_records(&msg.pod);
        // (zone, its id, the pod's (name, address, record id) registered there)
        let mut doomed: Vec<(ZoneWant, String, Vec<Doomed>)> = Vec::new();
        for target in targets(self, &msg.pod) {
            let Some(zone_id) = target.zone_id else {
                continue;
            };
            let here: Vec<_> = records
                .iter()
                .filter_map(|(name, want)| {
                    let id = target.registered.get(name)?.get(&want.ip)?;
                    Some((name.clone(), want.ip, id.clone()))
                })
                .collect();
            doomed.push((target.want, zone_id, here));
        }
        let work = async move {
            let mut events = Vec::new();
            for (want, zone_id, records) in doomed {
                for (name, ip, id) in records {
                    if delete(&client, &want.endpoint, &zone_id, &id).await {
                        events.push(DnsEvent::RecordDeregistered {
                            zone: want.zone.clone(),
                            name,
                            ip,
                        });
                    }
                }
            }
            events
        };
        let correlation = msg.correlation;
        AtomicResponse::new(Box::pin(work.into_actor(self).then(
            move |events, act, _| super::record::commit_all(act, events, correlation),
        )))
    }
}

/// One zone on its microdns, as the writes below need it.
struct Zone<'a> {
    client: &'a MicrodnsClient,
    endpoint: &'a str,
    name: &'a str,
    id: &'a str,
}

impl Zone<'_> {
    /// Creates the records mkube has not registered here yet, then deletes the older
    /// addresses it registered under those names (R5). A transport failure ends the zone.
    async fn register(
        &self,
        records: &[(String, super::expected::Want)],
        registered: &Registered,
        events: &mut Vec<DnsEvent>,
    ) {
        let zone = self.name;
        for (name, want) in records {
            let have = registered.get(name);
            if have.is_some_and(|ips| ips.contains_key(&want.ip)) {
                continue;
            }
            let ip = want.ip.to_string();
            match self
                .client
                .create_a_record(self.endpoint, self.id, name, &ip, want.ttl)
                .await
            {
                Ok((record, _)) => events.push(DnsEvent::RecordRegistered {
                    zone: zone.to_string(),
                    name: name.clone(),
                    ip: want.ip,
                    record_id: record.id,
                    ttl: want.ttl,
                }),
                Err(e) => {
                    tracing::warn!(zone, name, ip, error = %e, "registering a pod name failed; the next pass retries");
                    if e.is_transport() {
                        break;
                    }
                    continue;
                }
            }
            for (old_ip, id) in have.into_iter().flatten() {
                if delete(self.client, self.endpoint, self.id, id).await {
                    events.push(DnsEvent::RecordDeregistered {
                        zone: zone.to_string(),
                        name: name.clone(),
                        ip: *old_ip,
                    });
                }
            }
        }
    }
}

/// True when the record is gone (deleted now or already missing).
async fn delete(client: &MicrodnsClient, endpoint: &str, zone_id: &str, id: &str) -> bool {
    match client.delete_record(endpoint, zone_id, id).await {
        Ok(()) | Err(MicrodnsError::Status { code: 404, .. }) => true,
        Err(e) => {
            tracing::warn!(endpoint, id, error = %e, "deleting a DNS record failed; the next pass retries");
            false
        }
    }
}
