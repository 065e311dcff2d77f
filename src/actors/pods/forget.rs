//! Forgetting a pod the log still holds although it is not desired (the API's DELETE of a
//! pod whose subject has events — device containers recorded for it, say — after its own
//! deletion was lost or never made): `PodDeleted` is recorded unless the subject's last event
//! is a deletion already; otherwise the pod is not found.

use super::{Delete, PodsActor, PodsError};
use crate::actors::journal::commit;
use crate::events::catalogue::PodsEvent;
use crate::events::log::{EventLog, LogError};
use crate::events::{Event, subject};
use crate::pod::pod_key;
use actix::prelude::*;

/// Record the deletion of pod `namespace/name` if the log does not end with one. A desired
/// pod is deleted as by [`Delete`] (its worker tears it down).
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, PodsError>")]
pub struct ForgetPod {
    pub namespace: String,
    pub name: String,
    pub correlation: String,
}

impl Handler<ForgetPod> for PodsActor {
    type Result = AtomicResponse<Self, Result<u64, PodsError>>;

    fn handle(&mut self, msg: ForgetPod, _: &mut Context<Self>) -> Self::Result {
        let key = pod_key(&msg.namespace, &msg.name);
        let delete = Delete {
            namespace: msg.namespace,
            name: msg.name,
            correlation: msg.correlation,
        };
        if self.state.pods.contains_key(&key) {
            return AtomicResponse::new(super::record_deletion(self, delete));
        }
        let log = self.journal.log().clone();
        let subject = subject::for_key(log.node(), "pods", &[&delete.namespace, &delete.name]);
        let read = async move { ends_deleted(&log, &subject).await };
        AtomicResponse::new(Box::pin(read.into_actor(self).then(
            move |ended, act, _| {
                let done: ResponseActFuture<Self, Result<u64, PodsError>> = match ended {
                    Err(e) => Box::pin(fut::ready(Err(PodsError::from(e)))),
                    Ok(true) => Box::pin(fut::ready(Err(PodsError::NotFound(key)))),
                    Ok(false) => {
                        let event = PodsEvent::PodDeleted {
                            namespace: delete.namespace,
                            name: delete.name,
                        };
                        Box::pin(
                            commit(act, event.into(), &delete.correlation)
                                .map(|r, _, _| r.map_err(PodsError::from)),
                        )
                    }
                };
                done
            },
        )))
    }
}

/// Whether `subject` has no events, or its last one is `PodDeleted` (or cannot be decoded).
async fn ends_deleted(log: &EventLog, subject: &str) -> Result<bool, LogError> {
    let Some(seq) = log.last_sequence_of(subject).await? else {
        return Ok(true);
    };
    let records = log
        .read_subject_after(subject, seq.saturating_sub(1))
        .await?;
    Ok(records
        .last()
        .and_then(|r| r.decode().ok())
        .is_none_or(|env| matches!(env.event, Event::Pods(PodsEvent::PodDeleted { .. }))))
}
