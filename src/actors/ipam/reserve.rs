//! IPAM-7 [D]: static addresses of desired pods are reserved before any dynamic allocation,
//! and NAME-10 [D]: adopted veths of desired pods get the `<container>.<pod>` hostname.
//!
//! Both are derived from the desired set, which is already in the log (the pods area), so
//! neither is an event: the pods engine hands the ipam actor the whole current set and the
//! actor replaces what it had. A deleted pod's reservation disappears with the next call.

use super::IpamActor;
use actix::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// Replace the reserved static addresses with those of the current desired set.
///
/// `desired` = `(key, network, ip)`: `key` is the veth name the pod's container will get
/// (the same key later passed to `Allocate`), `ip` its `static-ip` annotation. A reserved
/// address is never handed out dynamically to another key; static allocation is unaffected
/// (IPAM-3 still decides conflicts between two static owners).
///
/// The pods engine must send it (1) at boot after replay, before the first `SyncObserved`
/// and before any `Allocate`; (2) after every change of the desired set (pod declared,
/// updated, deleted; manifest or store reloaded), before the create that follows; and (3) at
/// the start of each reconcile pass. It is idempotent and appends nothing.
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "()")]
pub struct ReserveStatics {
    pub desired: Vec<(String, String, Ipv4Addr)>,
}

/// Replace the hostnames of the desired set: `(veth key, hostname)`, hostname
/// `<container>.<pod>` as `Allocate` would record it. Used only for veths learned from the
/// device by `SyncObserved` that mkube holds no allocation for (NAME-10 [D]); other adopted
/// veths get NAME-10 [O]'s third name field. Send it with `ReserveStatics`.
#[derive(Debug, Clone, Default, Message)]
#[rtype(result = "()")]
pub struct SetDesiredHostnames {
    pub hostnames: Vec<(String, String)>,
}

/// The current reservations: network → address → keys reserving it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reservations {
    by_network: BTreeMap<String, BTreeMap<Ipv4Addr, BTreeSet<String>>>,
}

impl Reservations {
    pub fn from_desired(desired: &[(String, String, Ipv4Addr)]) -> Self {
        let mut by_network: BTreeMap<String, BTreeMap<Ipv4Addr, BTreeSet<String>>> =
            BTreeMap::new();
        for (key, network, ip) in desired {
            by_network
                .entry(network.clone())
                .or_default()
                .entry(*ip)
                .or_default()
                .insert(key.clone());
        }
        Reservations { by_network }
    }

    /// Whether `ip` in `network` is reserved for some key other than `key`.
    pub fn reserved_for_other(&self, network: &str, ip: Ipv4Addr, key: &str) -> bool {
        self.by_network
            .get(network)
            .and_then(|n| n.get(&ip))
            .is_some_and(|keys| keys.iter().any(|k| k != key))
    }

    pub fn is_empty(&self) -> bool {
        self.by_network.is_empty()
    }
}

impl Handler<ReserveStatics> for IpamActor {
    type Result = ();

    fn handle(&mut self, msg: ReserveStatics, _: &mut Context<Self>) {
        for (key, network, ip) in &msg.desired {
            match self.pools.get(network) {
                None => tracing::warn!(%key, %network, "static IP reserved on an unknown network"),
                Some(p) if !p.subnet.contains(ip) => {
                    tracing::warn!(%key, %network, %ip, "static IP outside its network's subnet")
                }
                Some(_) => {}
            }
        }
        self.reserved = Reservations::from_desired(&msg.desired);
    }
}

impl Handler<SetDesiredHostnames> for IpamActor {
    type Result = ();

    fn handle(&mut self, msg: SetDesiredHostnames, _: &mut Context<Self>) {
        self.desired_hostnames = msg.hostnames.into_iter().collect();
    }
}
