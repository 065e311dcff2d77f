//! Rebuilding a pod from scratch — its containers, veths and addresses — as a queued per-pod
//! job (controller.md §3.5): after `maxRestarts` (LC-6 `OnFailed`) and for a network broken
//! three passes in a row (CC-R4). `ContainerRemoving` is recorded for each of its containers,
//! so its worker first finishes those teardowns (container, veth, address) and then creates
//! the pod anew; a crash in between resumes the same way.

use super::engine::Kick;
use super::{PodsActor, Recreated};
use crate::actors::journal::commit_all;
use crate::events::Event;
use crate::events::catalogue::PodsEvent;
use crate::pod::PodKey;
use actix::prelude::*;
use std::collections::VecDeque;

/// Rebuild pod `key` with fresh veths and addresses. Refused while its worker runs.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Recreated")]
pub struct RecreateFresh {
    pub key: String,
    pub reason: String,
    pub correlation: String,
}

impl Handler<RecreateFresh> for PodsActor {
    type Result = AtomicResponse<Self, Recreated>;

    fn handle(&mut self, msg: RecreateFresh, _: &mut Context<Self>) -> Self::Result {
        let ready = |r| AtomicResponse::new(Box::pin(fut::ready(r)));
        let Some(engine) = self.engine.as_ref() else {
            return ready(Recreated::NoEngine);
        };
        if !self.state.pods.contains_key(&msg.key) {
            return ready(Recreated::NoPod);
        }
        if engine.is_busy(&msg.key) {
            return ready(Recreated::Busy);
        }
        tracing::warn!(pod = %msg.key, reason = %msg.reason, "recreating the pod with fresh veths and addresses");
        AtomicResponse::new(recreate(self, msg.key, VecDeque::new(), msg.correlation))
    }
}

/// Records `first` (e.g. LC-6's `UnitRecreating`), then `ContainerRemoving` for every
/// container of `key` not yet being removed, then runs its worker.
pub(super) fn recreate(
    act: &mut PodsActor,
    key: String,
    mut first: VecDeque<Event>,
    correlation: String,
) -> ResponseActFuture<PodsActor, Recreated> {
    let id = PodKey::parse(&key);
    if let Some(p) = act.state.pods.get(&key) {
        for (container, rec) in &p.containers {
            if !rec.removing {
                first.push_back(
                    PodsEvent::ContainerRemoving {
                        namespace: id.namespace.clone(),
                        name: id.name.clone(),
                        container: container.clone(),
                    }
                    .into(),
                );
            }
        }
    }
    Box::pin(
        commit_all(act, first, correlation).map(move |r, _, ctx| match r {
            Ok(_) => {
                ctx.notify(Kick {
                    key: key.clone(),
                    force: true,
                });
                Recreated::Queued(key)
            }
            Err(e) => Recreated::Failed(e.to_string()),
        }),
    )
}
