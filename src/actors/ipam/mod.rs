//! IPAM: one pool per configured network; allocations are facts in the log, recorded before
//! the veth that carries them exists (intent before effect).

pub mod pool;
pub mod state;

use super::journal::{Journal, commit};
use crate::config::Config;
use crate::events::AppendError;
use crate::events::catalogue::IpamEvent;
use actix::prelude::*;
use pool::{IpamError, Pool};
use state::IpamState;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub struct IpamActor {
    journal: Journal,
    state: IpamState,
    pools: BTreeMap<String, Pool>,
}

impl IpamActor {
    pub const NAME: &'static str = "ipam";
    pub const AREAS: &'static [&'static str] = &["ipam"];

    pub fn new(journal: Journal, state: IpamState, config: &Config) -> Self {
        let pools = config
            .networks
            .iter()
            .map(|n| {
                let (first, last) = n.ipam_range();
                (
                    n.name.clone(),
                    Pool::new(n.subnet(), n.gateway_ip(), first, last),
                )
            })
            .collect();
        IpamActor {
            journal,
            state,
            pools,
        }
    }
}

impl Actor for IpamActor {
    type Context = Context<Self>;
}

crate::persistent_actor!(IpamActor, IpamState, Ipam(IpamEvent) => apply);

#[derive(Debug, thiserror::Error)]
pub enum AllocateError {
    #[error(transparent)]
    Ipam(#[from] IpamError),
    #[error(transparent)]
    Log(#[from] AppendError),
}

/// Give `key` (a veth name) an address on `network`: `static_ip` if set, else the next free
/// one. A key that already holds an address keeps it (a retried create gets the same IP).
#[derive(Debug, Message)]
#[rtype(result = "Result<Ipv4Addr, AllocateError>")]
pub struct Allocate {
    pub network: String,
    pub key: String,
    pub hostname: String,
    pub static_ip: Option<Ipv4Addr>,
    pub correlation: String,
}

/// Free `key`'s address; an unknown key is a no-op (IPAM-4).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), AppendError>")]
pub struct Release {
    pub network: String,
    pub key: String,
    pub correlation: String,
}

impl Handler<Allocate> for IpamActor {
    type Result = AtomicResponse<Self, Result<Ipv4Addr, AllocateError>>;

    fn handle(&mut self, msg: Allocate, _: &mut Context<Self>) -> Self::Result {
        let decided = self.decide(&msg);
        AtomicResponse::new(match decided {
            Err(e) => Box::pin(fut::ready(Err(e.into()))),
            Ok((ip, false)) => Box::pin(fut::ready(Ok(ip))),
            Ok((ip, true)) => {
                let event = IpamEvent::IpAllocated {
                    network: msg.network,
                    key: msg.key,
                    ip,
                    hostname: msg.hostname,
                    is_static: msg.static_ip.is_some(),
                };
                Box::pin(
                    commit(self, event.into(), &msg.correlation)
                        .map(move |r, _, _| r.map(|_| ip).map_err(AllocateError::from)),
                )
            }
        })
    }
}

impl IpamActor {
    /// Returns the address and whether it must be recorded (false: already held as asked).
    fn decide(&mut self, msg: &Allocate) -> Result<(Ipv4Addr, bool), IpamError> {
        let pool = self
            .pools
            .get_mut(&msg.network)
            .ok_or_else(|| IpamError::UnknownNetwork(msg.network.clone()))?;
        let held = self.state.pools.get(&msg.network);
        let current = held.and_then(|p| p.get(&msg.key));
        match msg.static_ip {
            Some(ip) => {
                pool.check_static(ip, &msg.key, self.state.holder(&msg.network, ip))?;
                Ok((ip, current.is_none_or(|a| a.ip != ip)))
            }
            None => match current {
                Some(a) => Ok((a.ip, false)),
                None => {
                    let ip = pool
                        .next_dynamic(|ip| held.is_some_and(|p| p.values().any(|a| a.ip == ip)))?;
                    Ok((ip, true))
                }
            },
        }
    }
}

impl Handler<Release> for IpamActor {
    type Result = AtomicResponse<Self, Result<(), AppendError>>;

    fn handle(&mut self, msg: Release, _: &mut Context<Self>) -> Self::Result {
        let held = self
            .state
            .pools
            .get(&msg.network)
            .is_some_and(|p| p.contains_key(&msg.key));
        if !held {
            return AtomicResponse::new(Box::pin(fut::ready(Ok(()))));
        }
        let event = IpamEvent::IpReleased {
            network: msg.network,
            key: msg.key,
        };
        AtomicResponse::new(Box::pin(
            commit(self, event.into(), &msg.correlation).map(|r, _, _| r.map(|_| ())),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::pool::{IpamError, Pool};
    use std::net::Ipv4Addr;

    fn pool(cidr: &str, first: &str, last: &str) -> Pool {
        let net: ipnet::Ipv4Net = cidr.parse().unwrap();
        let gw = Ipv4Addr::from(u32::from(net.network()) + 1);
        Pool::new(net, gw, first.parse().unwrap(), last.parse().unwrap())
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    // IPAM-2 vectors from controller.md §4.
    #[test]
    fn ipam2_next_fit_vectors() {
        let mut p = pool("172.20.0.0/24", "172.20.0.2", "172.20.0.254");
        let mut held = vec![];
        for want in ["172.20.0.2", "172.20.0.3"] {
            let got = p.next_dynamic(|a| held.contains(&a)).unwrap();
            assert_eq!(got, ip(want));
            held.push(got);
        }
        let mut p = pool("172.20.0.0/30", "172.20.0.2", "172.20.0.2");
        assert_eq!(p.next_dynamic(|_| false).unwrap(), ip("172.20.0.2"));
        assert!(matches!(
            p.next_dynamic(|a| a == ip("172.20.0.2")),
            Err(IpamError::Exhausted { .. })
        ));
        // Recorded .5/.6 are skipped.
        let mut p = pool("172.20.0.0/24", "172.20.0.5", "172.20.0.254");
        let taken = [ip("172.20.0.5"), ip("172.20.0.6")];
        assert_eq!(
            p.next_dynamic(|a| taken.contains(&a)).unwrap(),
            ip("172.20.0.7")
        );
        // Range .200-.201: third call exhausted.
        let mut p = pool("10.0.0.0/24", "10.0.0.200", "10.0.0.201");
        let mut held = vec![];
        for _ in 0..2 {
            held.push(p.next_dynamic(|a| held.contains(&a)).unwrap());
        }
        assert!(p.next_dynamic(|a| held.contains(&a)).is_err());
        // Range .200-.202 full, release .200 → next is .200.
        let mut p = pool("10.0.0.0/24", "10.0.0.200", "10.0.0.202");
        let mut held = vec![];
        for _ in 0..3 {
            held.push(p.next_dynamic(|a| held.contains(&a)).unwrap());
        }
        held.retain(|a| *a != ip("10.0.0.200"));
        assert_eq!(
            p.next_dynamic(|a| held.contains(&a)).unwrap(),
            ip("10.0.0.200")
        );
    }

    // IPAM-3: static checks.
    #[test]
    fn ipam3_static_rules() {
        let p = pool("10.0.0.0/24", "10.0.0.200", "10.0.0.250");
        assert!(p.check_static(ip("10.0.0.199"), "a", None).is_ok());
        assert!(p.check_static(ip("10.0.0.199"), "a", Some("a")).is_ok());
        assert!(matches!(
            p.check_static(ip("10.0.0.199"), "a", Some("b")),
            Err(IpamError::Taken { .. })
        ));
        assert!(matches!(
            p.check_static(ip("10.0.0.1"), "a", None),
            Err(IpamError::Gateway(_))
        ));
        assert!(matches!(
            p.check_static(ip("10.0.1.5"), "a", None),
            Err(IpamError::OutsideSubnet { .. })
        ));
    }
}
