//! The image cache: digests and RouterOS tarballs. Effects (registry pulls, tarball writes) arrive with the image pipeline; here the actor records and folds its facts.

pub mod state;

use super::journal::Journal;
use crate::events::catalogue::ImagesEvent;
use actix::prelude::*;
use state::ImagesState;

pub struct ImagesActor {
    journal: Journal,
    state: ImagesState,
}

impl ImagesActor {
    pub const NAME: &'static str = "images";
    pub const AREAS: &'static [&'static str] = &["images"];

    pub fn new(journal: Journal, state: ImagesState) -> Self {
        ImagesActor { journal, state }
    }
}

impl Actor for ImagesActor {
    type Context = Context<Self>;
}

crate::persistent_actor!(ImagesActor, ImagesState, Images(ImagesEvent) => apply);
