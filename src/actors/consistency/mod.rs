//! The consistency checker: compares the device with what mkube believes and repairs. Checks arrive with the RouterOS client; here the actor records and folds its facts.

pub mod state;

use super::journal::Journal;
use crate::events::catalogue::ConsistencyEvent;
use actix::prelude::*;
use state::ConsistencyState;

pub struct ConsistencyActor {
    journal: Journal,
    state: ConsistencyState,
}

impl ConsistencyActor {
    pub const NAME: &'static str = "consistency";
    pub const AREAS: &'static [&'static str] = &["consistency"];

    pub fn new(journal: Journal, state: ConsistencyState) -> Self {
        ConsistencyActor { journal, state }
    }
}

impl Actor for ConsistencyActor {
    type Context = Context<Self>;
}

crate::persistent_actor!(ConsistencyActor, ConsistencyState, Consistency(ConsistencyEvent) => apply);
