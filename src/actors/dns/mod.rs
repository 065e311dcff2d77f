//! Zones and records in each network's microdns server. Effects (microdns REST) arrive with the DNS client; here the actor records and folds its facts.

pub mod expected;
pub mod plan;
pub mod state;

use super::journal::Journal;
use crate::events::catalogue::DnsEvent;
use actix::prelude::*;
use state::DnsState;

pub struct DnsActor {
    journal: Journal,
    state: DnsState,
}

impl DnsActor {
    pub const NAME: &'static str = "dns";
    pub const AREAS: &'static [&'static str] = &["dns"];

    pub fn new(journal: Journal, state: DnsState) -> Self {
        DnsActor { journal, state }
    }
}

impl Actor for DnsActor {
    type Context = Context<Self>;
}

crate::persistent_actor!(DnsActor, DnsState, Dns(DnsEvent) => apply);
