//! Desired pods, their device containers and lifecycle units. Creating containers on the
//! device arrives with the RouterOS client; here the actor owns the desired state: a pod is
//! declared or deleted as a fact in the log, and reads are served from the fold.

pub mod state;
mod update;
pub use update::Update;

use super::journal::{Journal, commit};
use crate::events::AppendError;
use crate::events::catalogue::{LifecycleEvent, PodSource, PodsEvent};
use actix::prelude::*;
use k8s_openapi::api::core::v1::Pod;
use state::{PodsState, pod_key};

pub struct PodsActor {
    journal: Journal,
    state: PodsState,
}

impl PodsActor {
    pub const NAME: &'static str = "pods";
    pub const AREAS: &'static [&'static str] = &["pods", "lifecycle"];

    pub fn new(journal: Journal, state: PodsState) -> Self {
        PodsActor { journal, state }
    }
}

impl Actor for PodsActor {
    type Context = Context<Self>;
}

crate::persistent_actor!(
    PodsActor,
    PodsState,
    Pods(PodsEvent) => apply,
    Lifecycle(LifecycleEvent) => apply_lifecycle,
);

#[derive(Debug, thiserror::Error)]
pub enum PodsError {
    #[error("pod {0} already exists")]
    AlreadyExists(String),
    #[error("pod {0} not found")]
    NotFound(String),
    #[error(transparent)]
    Log(#[from] AppendError),
}

/// Make a pod desired. Namespace and name must already be set and valid (the API admits).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Pod, u64), PodsError>")]
pub struct Declare {
    pub pod: Pod,
    pub source: PodSource,
    pub correlation: String,
}

/// Stop desiring a pod.
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, PodsError>")]
pub struct Delete {
    pub namespace: String,
    pub name: String,
    pub correlation: String,
}

fn names(pod: &Pod) -> (String, String) {
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let name = pod.metadata.name.clone().unwrap_or_default();
    (namespace, name)
}

impl Handler<Declare> for PodsActor {
    type Result = AtomicResponse<Self, Result<(Pod, u64), PodsError>>;

    fn handle(&mut self, msg: Declare, _: &mut Context<Self>) -> Self::Result {
        let (namespace, name) = names(&msg.pod);
        let key = pod_key(&namespace, &name);
        if self.state.pods.contains_key(&key) {
            return AtomicResponse::new(Box::pin(fut::ready(Err(PodsError::AlreadyExists(key)))));
        }
        let pod = msg.pod;
        let event = PodsEvent::PodDeclared {
            namespace,
            name,
            source: msg.source,
            pod: Box::new(pod.clone()),
        };
        AtomicResponse::new(Box::pin(
            commit(self, event.into(), &msg.correlation)
                .map(move |r, _, _| r.map(|seq| (pod, seq)).map_err(PodsError::from)),
        ))
    }
}

impl Handler<Delete> for PodsActor {
    type Result = AtomicResponse<Self, Result<u64, PodsError>>;

    fn handle(&mut self, msg: Delete, _: &mut Context<Self>) -> Self::Result {
        let key = pod_key(&msg.namespace, &msg.name);
        if !self.state.pods.contains_key(&key) {
            return AtomicResponse::new(Box::pin(fut::ready(Err(PodsError::NotFound(key)))));
        }
        let event = PodsEvent::PodDeleted {
            namespace: msg.namespace,
            name: msg.name,
        };
        AtomicResponse::new(Box::pin(
            commit(self, event.into(), &msg.correlation).map(|r, _, _| r.map_err(PodsError::from)),
        ))
    }
}
