//! Desired pods, their device containers and lifecycle units. The actor owns the desired
//! state (a pod is declared, updated or deleted as a fact in the log; readers use its
//! published fold) and supervises one worker job per pod key that makes the device match:
//! `engine.rs` runs the jobs (one per pod, `backoff.rs` after failures), `decide/` says what a
//! job must do (pure), `worker/` does it against the device and records the outcomes
//! (`facts.rs`), `settled.rs` tells listeners when a job ends.

pub mod backoff;
pub mod configfiles;
pub mod configsync;
pub mod decide;
pub mod device_log;
pub mod engine;
pub mod error;
pub mod facts;
pub mod forget;
pub mod fresh;
pub mod plan;
pub mod settled;
pub mod state;
pub mod units;
mod view;
pub mod worker;

use super::journal::{Journal, commit};
use super::published::{Published, Shared};
use crate::events::AppendError;
use crate::events::catalogue::{LifecycleEvent, PodSource, PodsEvent};
use crate::events::log::LogError;
use crate::pod::pod_key;
use actix::prelude::*;
use engine::Engine;
pub use engine::{DeviceObserved, Kick, Kicked, Recreate, Runnable};
pub use error::{CONFIG_ERROR, JobError};
pub use facts::RecordRolloutHalt;
pub use forget::ForgetPod;
pub use fresh::RecreateFresh;
use k8s_openapi::api::core::v1::Pod;
use state::PodsState;
pub use units::Recreated;
pub use view::{GetPod, PodView};

pub struct PodsActor {
    journal: Journal,
    /// Shared copy-on-write with the API's readers (`published.rs`).
    state: Shared<PodsState>,
    /// Device work; `None` for an actor that only records (tools, unit tests).
    engine: Option<Engine>,
    /// L-11: the last lifecycle transition per unit (in memory, `units.rs`).
    unit_health: std::collections::BTreeMap<String, String>,
}

impl PodsActor {
    pub const NAME: &'static str = "pods";
    pub const AREAS: &'static [&'static str] = &["pods", "lifecycle"];

    pub fn new(journal: Journal, state: PodsState) -> Self {
        PodsActor {
            journal,
            state: Shared::new(state),
            engine: None,
            unit_health: Default::default(),
        }
    }

    /// Where readers find the current pods fold without asking the actor.
    pub fn published(&self) -> Published<PodsState> {
        self.state.published()
    }

    /// Runs pod workers against the device with these dependencies.
    pub fn with_engine(mut self, deps: worker::WorkerDeps) -> Self {
        self.engine = Some(Engine::new(deps));
        self
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
crate::published_actor!(PodsActor, PodsState);

#[derive(Debug, thiserror::Error)]
pub enum PodsError {
    #[error("pod {0} already exists")]
    AlreadyExists(String),
    #[error("pod {0} not found")]
    NotFound(String),
    #[error(transparent)]
    Log(#[from] AppendError),
    /// The log could not be read to decide (`ForgetPod`); nothing was recorded.
    #[error(transparent)]
    Unavailable(#[from] LogError),
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
    let key = crate::pod::PodKey::of(pod);
    (key.namespace, key.name)
}

impl Handler<Declare> for PodsActor {
    type Result = AtomicResponse<Self, Result<(Pod, u64), PodsError>>;

    fn handle(&mut self, msg: Declare, _: &mut Context<Self>) -> Self::Result {
        let (namespace, name) = names(&msg.pod);
        let (ns, n) = (namespace.clone(), name.clone());
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
            commit_and_run(self, event, &msg.correlation, ns, n)
                .map(|r, _, _| r.map(|seq| (pod, seq))),
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
        AtomicResponse::new(record_deletion(self, msg))
    }
}

/// Records `PodDeleted` and starts the pod's worker, which tears down what the pod left.
fn record_deletion(
    act: &mut PodsActor,
    msg: Delete,
) -> ResponseActFuture<PodsActor, Result<u64, PodsError>> {
    let (ns, n) = (msg.namespace.clone(), msg.name.clone());
    let event = PodsEvent::PodDeleted {
        namespace: msg.namespace,
        name: msg.name,
    };
    commit_and_run(act, event, &msg.correlation, ns, n)
}

/// Records a change of a pod's desired state and, once recorded, starts its worker.
fn commit_and_run(
    act: &mut PodsActor,
    event: PodsEvent,
    correlation: &str,
    namespace: String,
    name: String,
) -> ResponseActFuture<PodsActor, Result<u64, PodsError>> {
    Box::pin(
        commit(act, event.into(), correlation).map(move |r, _, ctx| {
            if r.is_ok() {
                engine::kick_after_change(ctx, &namespace, &name);
            }
            r.map_err(PodsError::from)
        }),
    )
}

/// Replace a desired pod's spec (PUT/PATCH, §3.3). The worker rebuilds its containers,
/// keeping veth and address when neither network nor static IP changed.
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
        let (ns, n) = (namespace.clone(), name.clone());
        let pod = msg.pod;
        let event = PodsEvent::PodUpdated {
            namespace,
            name,
            pod: Box::new(pod.clone()),
        };
        AtomicResponse::new(Box::pin(
            commit_and_run(self, event, &msg.correlation, ns, n)
                .map(|r, _, _| r.map(|seq| (pod, seq))),
        ))
    }
}

/// DS-2: declare a boot-order pod unless its key is desired already or its deletion through
/// the API was recorded (a deleted boot-order pod stays deleted). Unlike `Declare` it does not
/// start the worker: the reconcile pass creates seeded pods in boot order (§7.4).
#[derive(Debug, Message)]
#[rtype(result = "Result<bool, PodsError>")]
pub struct Seed {
    pub pod: Pod,
    pub correlation: String,
}

impl Handler<Seed> for PodsActor {
    type Result = AtomicResponse<Self, Result<bool, PodsError>>;

    fn handle(&mut self, msg: Seed, _: &mut Context<Self>) -> Self::Result {
        let (namespace, name) = names(&msg.pod);
        let key = pod_key(&namespace, &name);
        if self.state.pods.contains_key(&key) || self.state.deleted_manifest.contains(&key) {
            return AtomicResponse::new(Box::pin(fut::ready(Ok(false))));
        }
        let event = PodsEvent::PodDeclared {
            namespace,
            name,
            source: PodSource::Manifest,
            pod: Box::new(msg.pod),
        };
        AtomicResponse::new(Box::pin(
            commit(self, event.into(), &msg.correlation)
                .map(|r, _, _| r.map(|_| true).map_err(PodsError::from)),
        ))
    }
}
