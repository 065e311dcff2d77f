//! Replacing a desired pod's spec (PUT, PATCH): recorded as `PodUpdated`. The device follows
//! through the engine (controller.md §3.3).

use super::state::pod_key;
use super::{PodsActor, PodsError, names};
use crate::actors::journal::commit;
use crate::events::catalogue::PodsEvent;
use actix::prelude::*;
use k8s_openapi::api::core::v1::Pod;

/// Replace the desired spec of an existing pod. Namespace and name must be set and valid, and
/// must name a desired pod.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Pod, u64), PodsError>")]
pub struct Update {
    pub pod: Pod,
    pub correlation: String,
}

impl Handler<Update> for PodsActor {
    type Result = AtomicResponse<Self, Result<(Pod, u64), PodsError>>;

    fn handle(&mut self, msg: Update, _: &mut Context<Self>) -> Self::Result {
        let (namespace, name) = names(&msg.pod);
        let key = pod_key(&namespace, &name);
        if !self.state.pods.contains_key(&key) {
            return AtomicResponse::new(Box::pin(fut::ready(Err(PodsError::NotFound(key)))));
        }
        let pod = msg.pod;
        let event = PodsEvent::PodUpdated {
            namespace,
            name,
            pod: Box::new(pod.clone()),
        };
        AtomicResponse::new(Box::pin(
            commit(self, event.into(), &msg.correlation)
                .map(move |r, _, _| r.map(|seq| (pod, seq)).map_err(PodsError::from)),
        ))
    }
}
