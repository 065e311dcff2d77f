//! Pure unit tests of the ipam decisions, citing controller.md §4 rule ids.

mod addr;
mod pools;
mod sync;
mod vectors;

use super::allocate::{Request, decide};
use super::pool::{IpamError, Pool};
use super::pools::Pools;
use super::reserve::Reservations;
use super::state::IpamState;
use crate::events::catalogue::IpamEvent;
use std::net::Ipv4Addr;

pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// A pool on `cidr` with gateway network + 1 and the dynamic range `first..=last`.
pub fn pool(cidr: &str, first: &str, last: &str) -> Pool {
    let net: ipnet::Ipv4Net = cidr.parse().unwrap();
    let gw = Ipv4Addr::from(u32::from(net.network()) + 1);
    Pool::new(net, gw, ip(first), ip(last))
}

/// A pool with IPAM-2's default range: network + 2 ..= broadcast − 1.
pub fn default_pool(cidr: &str) -> Pool {
    let net: ipnet::Ipv4Net = cidr.parse().unwrap();
    let first = Ipv4Addr::from(u32::from(net.network()) + 2);
    let last = Ipv4Addr::from(u32::from(net.broadcast()) - 1);
    Pool::new(
        net,
        Ipv4Addr::from(u32::from(net.network()) + 1),
        first,
        last,
    )
}

/// The actor's decisions without the actor: decide, then fold the event as the actor would
/// after the log's acknowledgement.
pub struct Model {
    pub pools: Pools,
    pub state: IpamState,
    pub reserved: Reservations,
    /// Events "appended" so far.
    pub appended: usize,
}

impl Model {
    pub fn new(pools: Vec<(&str, Pool)>) -> Model {
        Model {
            pools: Pools::new(pools.into_iter().map(|(n, p)| (n.to_string(), p)).collect()),
            state: IpamState::default(),
            reserved: Reservations::default(),
            appended: 0,
        }
    }

    /// One network `n`.
    pub fn one(p: Pool) -> Model {
        Model::new(vec![("n", p)])
    }

    pub fn alloc_in(
        &mut self,
        network: &str,
        key: &str,
        static_ip: Option<&str>,
    ) -> Result<Ipv4Addr, IpamError> {
        let static_ip = static_ip.map(ip);
        let req = Request {
            network,
            key,
            static_ip,
        };
        let (got, record) = decide(&mut self.pools, &self.state, &self.reserved, req)?;
        if record {
            self.push(IpamEvent::IpAllocated {
                network: network.into(),
                key: key.into(),
                ip: got,
                hostname: format!("{key}.pod"),
                is_static: static_ip.is_some(),
            });
        }
        Ok(got)
    }

    pub fn alloc(&mut self, key: &str) -> Result<Ipv4Addr, IpamError> {
        self.alloc_in("n", key, None)
    }

    pub fn alloc_static(&mut self, key: &str, at: &str) -> Result<Ipv4Addr, IpamError> {
        self.alloc_in("n", key, Some(at))
    }

    /// IPAM-4 release: unknown keys are a no-op (nothing appended).
    pub fn release(&mut self, key: &str) {
        if self
            .state
            .pools
            .get("n")
            .is_some_and(|p| p.contains_key(key))
        {
            self.push(IpamEvent::IpReleased {
                network: "n".into(),
                key: key.into(),
            });
        }
    }

    /// IPAM-4 record: key → IP without conflict checks.
    pub fn record(&mut self, key: &str, at: &str) {
        self.push(IpamEvent::IpRecorded {
            network: "n".into(),
            key: key.into(),
            ip: ip(at),
            hostname: String::new(),
        });
    }

    pub fn push(&mut self, event: IpamEvent) {
        self.state.apply(&event);
        self.appended += 1;
    }
}
