//! IPAM-5/IPAM-6: reconcile the replayed allocations with the veths the device reports.
//!
//! Rules, decided by the pure [`plan`]:
//! - every veth whose (first IPv4) address lies inside some pool — the first in configuration
//!   order — is recorded under its own name (`IpRecorded`), including veths mkube did not
//!   create (e.g. the controller's own `veth-mkube`), which keeps those addresses out of
//!   dynamic allocation;
//! - the device wins for addresses veths actually carry: an allocation whose veth carries a
//!   different address is re-recorded with the device's address (and released from any other
//!   network it was held in); another key claiming an address a veth carries, while that key
//!   has no veth carrying an address on the device, is a stale claim and is released (L-6);
//! - an allocation whose veth does not exist on the device is **kept**: allocations are
//!   intent recorded before the effect, so the pods engine may be between `Allocate` and the
//!   veth create; only NET-2 (`Release`) frees it. Sync never removes entries otherwise;
//! - malformed, IPv6-only and out-of-pool addresses are ignored with a warning;
//! - a pass where nothing differs appends no event.

use super::IpamActor;
use super::addr::{adopted_hostname, parse_device_address};
use super::pools::Pools;
use super::state::IpamState;
use crate::actors::journal::commit;
use crate::events::AppendError;
use crate::events::catalogue::IpamEvent;
use actix::prelude::*;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;

/// The veths the device reports, as read from `GET /interface/veth`: `(name, address)` with
/// the address as printed (a comma list of CIDRs, or a bare address). Sent at startup after
/// replay (after `ReserveStatics`/`SetDesiredHostnames`) and on every `ResyncAllocations`
/// (reconcile step 4 and each consistency pass).
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "Result<SyncReport, AppendError>")]
pub struct SyncObserved {
    pub veths: Vec<(String, String)>,
}

/// What a sync pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncReport {
    /// Events appended (0 when the device and the state already agree).
    pub appended: usize,
    /// Device veths left out, with the reason.
    pub ignored: Vec<Ignored>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ignored {
    pub veth: String,
    pub address: String,
    pub reason: String,
}

/// The decision of one pass: the events to append, in order, and what was ignored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncPlan {
    pub events: Vec<IpamEvent>,
    pub ignored: Vec<Ignored>,
}

/// Decides a sync pass from the state, the pools and the observed veths. Pure.
/// `hostnames` maps veth keys of desired pods to `<container>.<pod>` (NAME-10 [D]).
pub fn plan(
    pools: &Pools,
    state: &IpamState,
    hostnames: &BTreeMap<String, String>,
    veths: &[(String, String)],
) -> SyncPlan {
    let mut out = SyncPlan::default();
    let carried = carried_addresses(pools, veths, &mut out.ignored);
    let carriers: BTreeSet<&str> = carried.iter().map(|(v, _, _)| v.as_str()).collect();
    let mut work = state.clone();
    for (veth, network, ip) in &carried {
        let mut events = Vec::new();
        for other in work.networks_of(veth).filter(|n| *n != network.as_str()) {
            events.push(IpamEvent::IpReleased {
                network: other.to_string(),
                key: veth.clone(),
            });
        }
        let stale = work
            .pools
            .get(network)
            .into_iter()
            .flatten()
            .filter(|(k, a)| a.ip == *ip && k.as_str() != veth && !carriers.contains(k.as_str()));
        for (key, _) in stale {
            events.push(IpamEvent::IpReleased {
                network: network.clone(),
                key: key.clone(),
            });
        }
        let held = work.pools.get(network).and_then(|p| p.get(veth));
        if held.is_none_or(|a| a.ip != *ip) {
            events.push(IpamEvent::IpRecorded {
                network: network.clone(),
                key: veth.clone(),
                ip: *ip,
                hostname: hostname_for(state, hostnames, veth),
            });
        }
        for event in events {
            work.apply(&event);
            out.events.push(event);
        }
    }
    out
}

/// Parses every veth's address and finds its pool; each veth counts once.
fn carried_addresses(
    pools: &Pools,
    veths: &[(String, String)],
    ignored: &mut Vec<Ignored>,
) -> Vec<(String, String, Ipv4Addr)> {
    let mut seen = BTreeSet::new();
    let mut carried = Vec::new();
    for (veth, address) in veths {
        let verdict = if !seen.insert(veth.as_str()) {
            Err("veth listed more than once; the first entry counts".to_string())
        } else {
            parse_device_address(address).and_then(|ip| match pools.network_of(ip) {
                Some(network) => Ok((network.to_string(), ip)),
                None => Err(format!("{ip} is inside no configured pool")),
            })
        };
        match verdict {
            Ok((network, ip)) => carried.push((veth.clone(), network, ip)),
            Err(reason) => ignored.push(Ignored {
                veth: veth.clone(),
                address: address.clone(),
                reason,
            }),
        }
    }
    carried
}

/// The hostname recorded for a veth learned from the device: the one mkube already holds
/// for it, else the desired pod's `<container>.<pod>` (NAME-10 [D]), else the third
/// `_`-field of the name (NAME-10 [O]).
fn hostname_for(state: &IpamState, hostnames: &BTreeMap<String, String>, veth: &str) -> String {
    state
        .pools
        .values()
        .filter_map(|p| p.get(veth))
        .map(|a| a.hostname.clone())
        .find(|h| !h.is_empty())
        .or_else(|| hostnames.get(veth).cloned())
        .unwrap_or_else(|| adopted_hostname(veth))
}

impl Handler<SyncObserved> for IpamActor {
    type Result = AtomicResponse<Self, Result<SyncReport, AppendError>>;

    fn handle(&mut self, msg: SyncObserved, _: &mut Context<Self>) -> Self::Result {
        let plan = plan(
            &self.pools,
            &self.state,
            &self.desired_hostnames,
            &msg.veths,
        );
        for i in &plan.ignored {
            tracing::warn!(veth = %i.veth, address = %i.address, reason = %i.reason,
                "IPAM sync: device veth address ignored");
        }
        let ignored = plan.ignored;
        let events: VecDeque<IpamEvent> = plan.events.into();
        AtomicResponse::new(Box::pin(
            commit_all(self, events, 0)
                .map(move |r, _, _| r.map(|appended| SyncReport { appended, ignored })),
        ))
    }
}

/// Appends the events one after another (each applied after its acknowledgement); stops at
/// the first failure. Resolves to the number appended.
fn commit_all(
    act: &mut IpamActor,
    mut events: VecDeque<IpamEvent>,
    done: usize,
) -> ResponseActFuture<IpamActor, Result<usize, AppendError>> {
    let Some(event) = events.pop_front() else {
        return Box::pin(fut::ready(Ok(done)));
    };
    Box::pin(
        commit(act, event.into(), "ipam.sync").then(move |r, act, _| match r {
            Ok(_) => commit_all(act, events, done + 1),
            Err(e) => Box::pin(fut::ready(Err(e))),
        }),
    )
}
