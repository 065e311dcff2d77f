//! IPAM: one pool per configured network; allocations are facts in the log, recorded before
//! the veth that carries them exists (intent before effect).
//!
//! Messages: `Allocate`, `Release` (NET-1/NET-2), `ReserveStatics` and `SetDesiredHostnames`
//! (the desired set, IPAM-7 and NAME-10 [D]), `SyncObserved` (IPAM-5/IPAM-6), and the
//! queries `GetAllocations` and `GetPorts`. Decisions are pure functions (`allocate`, `sync`,
//! `pool`, `addr`); the actor appends their events through `journal::commit`.

pub mod addr;
pub mod allocate;
pub mod pool;
pub mod pools;
pub mod query;
pub mod reserve;
pub mod state;
pub mod sync;

#[cfg(test)]
mod tests;

use super::journal::{Journal, commit};
use super::published::{Published, Shared};
use crate::config::Config;
use crate::events::AppendError;
use crate::events::catalogue::IpamEvent;
use actix::prelude::*;
use pool::IpamError;
use pools::Pools;
use reserve::Reservations;
use state::IpamState;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub use query::{GetAllocations, GetPorts};
pub use reserve::{ReserveStatics, SetDesiredHostnames};
pub use state::Port;
pub use sync::{SyncObserved, SyncReport};

pub struct IpamActor {
    journal: Journal,
    /// Shared copy-on-write with the API's readers (`published.rs`).
    state: Shared<IpamState>,
    pools: Pools,
    /// IPAM-7 [D]: static addresses of the desired set; not events (derived from the pods log).
    reserved: Reservations,
    /// NAME-10 [D]: veth key → `<container>.<pod>` of the desired set.
    desired_hostnames: BTreeMap<String, String>,
}

impl IpamActor {
    pub const NAME: &'static str = "ipam";
    pub const AREAS: &'static [&'static str] = &["ipam"];

    pub fn new(journal: Journal, state: IpamState, config: &Config) -> Self {
        IpamActor {
            journal,
            state: Shared::new(state),
            pools: Pools::from_config(config),
            reserved: Reservations::default(),
            desired_hostnames: BTreeMap::new(),
        }
    }
}

impl Actor for IpamActor {
    type Context = Context<Self>;
}

crate::persistent_actor!(IpamActor, IpamState, Ipam(IpamEvent) => apply);
crate::published_actor!(IpamActor, IpamState);

impl IpamActor {
    /// Where readers find the current IPAM fold without asking the actor.
    pub fn published(&self) -> Published<IpamState> {
        self.state.published()
    }
}

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
        let request = allocate::Request {
            network: &msg.network,
            key: &msg.key,
            static_ip: msg.static_ip,
        };
        let decided = allocate::decide(&mut self.pools, &self.state, &self.reserved, request);
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
