//! Facts of the pods and lifecycle areas that are recorded on request rather than decided
//! from desired state: a rollout's halt (asked by the rollout), and the intents and outcomes
//! of the pods actor's own jobs (internal: only the pods room can send [`RecordFact`]).

use super::{PodsActor, PodsError};
use crate::actors::journal::commit;
use crate::events::catalogue::{LifecycleEvent, PodsEvent};
use crate::events::{AppendError, Event};
use crate::pod::PodKey;
use actix::prelude::*;

/// Images.md §4.4: the rollout of `image` halted at pod `key` (its recreate failed or it did
/// not become live), with `left` pods still on the old image. Recorded as the pod's
/// `PodCreateFailed`, whose reason starts with `rollout of <image> halted`; a pod no longer
/// desired is not found.
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, PodsError>")]
pub struct RecordRolloutHalt {
    pub key: String,
    pub image: String,
    pub left: usize,
    pub reason: String,
    pub correlation: String,
}

impl Handler<RecordRolloutHalt> for PodsActor {
    type Result = AtomicResponse<Self, Result<u64, PodsError>>;

    fn handle(&mut self, msg: RecordRolloutHalt, _: &mut Context<Self>) -> Self::Result {
        if !self.state.pods.contains_key(&msg.key) {
            return AtomicResponse::new(Box::pin(fut::ready(Err(PodsError::NotFound(msg.key)))));
        }
        let pod = PodKey::parse(&msg.key);
        let event = PodsEvent::PodCreateFailed {
            namespace: pod.namespace,
            name: pod.name,
            reason: format!(
                "rollout of {} halted, {} pod(s) left on the old image: {}",
                msg.image, msg.left, msg.reason
            ),
            waiting_reason: String::new(),
        };
        AtomicResponse::new(Box::pin(
            commit(self, event.into(), &msg.correlation).map(|r, _, _| r.map_err(PodsError::from)),
        ))
    }
}

/// A fact one of the pods actor's jobs established (`worker/`): an intent before a device
/// effect, an outcome after it, a lifecycle unit (un)registered.
#[derive(Debug)]
pub(in crate::actors::pods) struct RecordFact {
    pub event: Fact,
    pub correlation: String,
}

/// The areas the pods actor owns.
#[derive(Debug)]
pub(in crate::actors::pods) enum Fact {
    Pods(PodsEvent),
    Lifecycle(LifecycleEvent),
}

impl From<PodsEvent> for Fact {
    fn from(e: PodsEvent) -> Fact {
        Fact::Pods(e)
    }
}

impl From<LifecycleEvent> for Fact {
    fn from(e: LifecycleEvent) -> Fact {
        Fact::Lifecycle(e)
    }
}

impl Message for RecordFact {
    type Result = Result<u64, AppendError>;
}

impl Handler<RecordFact> for PodsActor {
    type Result = AtomicResponse<Self, Result<u64, AppendError>>;

    fn handle(&mut self, msg: RecordFact, _: &mut Context<Self>) -> Self::Result {
        let event = match msg.event {
            Fact::Pods(e) => Event::Pods(e),
            Fact::Lifecycle(e) => Event::Lifecycle(e),
        };
        AtomicResponse::new(commit(self, event, &msg.correlation))
    }
}
