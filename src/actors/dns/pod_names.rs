//! A pod's own names, outside the pass (R9): registered once its containers have addresses,
//! removed when it is deleted. Both work from what the log says mkube registered, so a pod
//! whose names are already in place costs no HTTP call at all; the pass repairs whatever
//! these miss (an unreachable endpoint, a zone not bootstrapped yet).

use super::DnsActor;
use super::expected::pod_records;
use super::sync::registered_in;
use crate::actors::pods::plan;
use crate::actors::pods::state::DesiredPod;
use crate::events::catalogue::DnsEvent;
use crate::microdns::MicrodnsError;
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

/// (endpoint, zone, zone id) of the pod's network, when its zone is known.
fn zone_of(act: &DnsActor, pod: &DesiredPod) -> Option<(String, String, String)> {
    let network = plan::network(&act.config, &pod.pod).ok()?;
    if network.external_dns {
        return None;
    }
    let zone = act.state.zones.get(&network.name)?;
    Some((
        zone.endpoint.clone(),
        zone.zone.clone(),
        zone.zone_id.clone(),
    ))
}

impl Handler<RegisterPod> for DnsActor {
    type Result = AtomicResponse<Self, usize>;

    fn handle(&mut self, msg: RegisterPod, _: &mut Context<Self>) -> Self::Result {
        let (Some(client), Some((endpoint, zone, zone_id))) =
            (self.client.clone(), zone_of(self, &msg.pod))
        else {
            return AtomicResponse::new(Box::pin(fut::ready(0)));
        };
        let registered = registered_in(&self.state, &zone);
        let records = pod_records(&msg.pod);
        let work = async move {
            let mut events = Vec::new();
            for (name, want) in records {
                let have = registered.get(&name);
                if have.is_some_and(|ips| ips.contains_key(&want.ip)) {
                    continue;
                }
                let ip = want.ip.to_string();
                match client
                    .create_a_record(&endpoint, &zone_id, &name, &ip, want.ttl)
                    .await
                {
                    Ok((record, _)) => events.push(DnsEvent::RecordRegistered {
                        zone: zone.clone(),
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
                // R5: the name's older addresses that mkube registered go.
                for (old_ip, id) in have.into_iter().flatten() {
                    if delete(&client, &endpoint, &zone_id, id).await {
                        events.push(DnsEvent::RecordDeregistered {
                            zone: zone.clone(),
                            name: name.clone(),
                            ip: *old_ip,
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

impl Handler<DeregisterPod> for DnsActor {
    type Result = AtomicResponse<Self, usize>;

    fn handle(&mut self, msg: DeregisterPod, _: &mut Context<Self>) -> Self::Result {
        let (Some(client), Some((endpoint, zone, zone_id))) =
            (self.client.clone(), zone_of(self, &msg.pod))
        else {
            return AtomicResponse::new(Box::pin(fut::ready(0)));
        };
        let registered = registered_in(&self.state, &zone);
        let mut doomed: Vec<(String, Ipv4Addr, String)> = Vec::new();
        for (name, want) in pod_records(&msg.pod) {
            if let Some(id) = registered.get(&name).and_then(|ips| ips.get(&want.ip)) {
                doomed.push((name, want.ip, id.clone()));
            }
        }
        let work = async move {
            let mut events = Vec::new();
            for (name, ip, id) in doomed {
                if delete(&client, &endpoint, &zone_id, &id).await {
                    events.push(DnsEvent::RecordDeregistered {
                        zone: zone.clone(),
                        name,
                        ip,
                    });
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

/// True when the record is gone (deleted now or already missing).
async fn delete(
    client: &crate::microdns::MicrodnsClient,
    endpoint: &str,
    zone_id: &str,
    id: &str,
) -> bool {
    match client.delete_record(endpoint, zone_id, id).await {
        Ok(()) | Err(MicrodnsError::Status { code: 404, .. }) => true,
        Err(e) => {
            tracing::warn!(endpoint, id, error = %e, "deleting a DNS record failed; the next pass retries");
            false
        }
    }
}
