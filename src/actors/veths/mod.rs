//! Veth interfaces and bridge ports on the device. Effects (RouterOS calls through the client's idempotent operations) arrive with the RouterOS client; here the actor records and folds its facts.

pub mod state;

use super::journal::Journal;
use crate::events::catalogue::VethsEvent;
use actix::prelude::*;
use state::VethsState;

pub struct VethsActor {
    journal: Journal,
    state: VethsState,
}

impl VethsActor {
    pub const NAME: &'static str = "veths";
    pub const AREAS: &'static [&'static str] = &["veths"];

    pub fn new(journal: Journal, state: VethsState) -> Self {
        VethsActor { journal, state }
    }
}

impl Actor for VethsActor {
    type Context = Context<Self>;
}

crate::persistent_actor!(VethsActor, VethsState, Veths(VethsEvent) => apply);
