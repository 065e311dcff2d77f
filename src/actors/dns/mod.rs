//! Zones and records in each network's microdns server (microdns-api.md §3–§4, DNS-1).
//! The actor keeps each zone's id and the records mkube registered as events; its effects go
//! through the microdns client: the per-pass zone sync (`sync`) and a pod's own names as it
//! comes and goes (`pod_names`); reports read the zones through `listing` (one list each).

pub mod expected;
pub mod listing;
pub mod plan;
pub mod pod_names;
mod record;
pub mod state;
pub mod sync;
pub mod validate;

use super::journal::Journal;
use crate::config::Config;
use crate::events::catalogue::DnsEvent;
use crate::microdns::{HealthGate, MicrodnsClient};
use actix::prelude::*;
use state::DnsState;
use std::collections::HashSet;
use std::sync::Arc;

pub use listing::{ListZones, ZoneListing};
pub use pod_names::{DeregisterPod, RegisterPod};
pub use sync::{DnsPassReport, SyncZones, ZoneReport};

pub struct DnsActor {
    journal: Journal,
    state: DnsState,
    config: Arc<Config>,
    /// `None`: no effects (replay tools, tests of the fold).
    client: Option<MicrodnsClient>,
    /// L-5: health checks of endpoints that failed, cached per endpoint.
    gate: Arc<tokio::sync::Mutex<HealthGate>>,
    /// (network, zone) pairs this process found or created since boot (zone bootstrap).
    bootstrapped: sync::Bootstrapped,
    /// Endpoints that failed at the transport level and are gated by their health check.
    unhealthy: HashSet<String>,
}

impl DnsActor {
    pub const NAME: &'static str = "dns";
    pub const AREAS: &'static [&'static str] = &["dns"];

    pub fn new(journal: Journal, state: DnsState) -> Self {
        DnsActor {
            journal,
            state,
            config: Arc::new(Config::default()),
            client: None,
            gate: Arc::new(tokio::sync::Mutex::new(HealthGate::new())),
            bootstrapped: sync::Bootstrapped::new(),
            unhealthy: HashSet::new(),
        }
    }

    /// The actor that talks to the networks' microdns servers.
    pub fn with_client(mut self, config: Arc<Config>, client: MicrodnsClient) -> Self {
        self.config = config;
        self.client = Some(client);
        self
    }
}

impl Actor for DnsActor {
    type Context = Context<Self>;
}

crate::persistent_actor!(DnsActor, DnsState, Dns(DnsEvent) => apply);
