//! The pods actor's supervision of pod workers: at most one job per pod key (L-4), a change
//! that arrives while a job runs re-runs it afterwards, and failed creates back off per pod
//! (`backoff.rs`) so reconcile does not retry every tick (§3.1 [F]).

use super::backoff::{Backoff, Backoffs};
use super::worker::{self, WorkerDeps};
use super::{JobError, PodsActor};
use crate::pod::pod_key;
use crate::routeros::Observation;
use actix::prelude::*;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

pub struct Engine {
    pub deps: WorkerDeps,
    busy: HashSet<String>,
    /// Keys changed while their job ran: run again when it ends.
    again: HashSet<String>,
    /// Failed pods the reconcile pass leaves alone for a while.
    backoff: Backoffs,
    /// The last reconcile pass's bulk observation: the jobs started until the next pass
    /// decide from it (cold creates without reads, §5).
    seen: Option<Arc<Observation>>,
    /// §5 step 5 runs one at a time (`configsync.rs`).
    pub config_sync: super::configsync::SyncGate,
}

impl Engine {
    pub fn new(deps: WorkerDeps) -> Engine {
        let backoff = Backoffs::new(Backoff::from_config(&deps.config.lifecycle));
        Engine {
            deps,
            busy: HashSet::new(),
            again: HashSet::new(),
            backoff,
            seen: None,
            config_sync: Default::default(),
        }
    }

    pub fn is_busy(&self, key: &str) -> bool {
        self.busy.contains(key)
    }

    pub fn backing_off(&self, key: &str) -> bool {
        self.backoff.holds(key, Instant::now())
    }
}

/// What a reconcile pass read of the device (one bulk read per table), sent before it runs
/// any worker: the jobs that start from now until the next pass decide from it, whatever
/// started them (the pass, or a user's change in between).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct DeviceObserved {
    pub seen: Arc<Observation>,
}

impl Handler<DeviceObserved> for PodsActor {
    type Result = ();

    fn handle(&mut self, msg: DeviceObserved, _: &mut Context<Self>) {
        let log_up = self.journal.log().is_connected();
        if let Some(engine) = self.engine.as_mut() {
            engine.seen = Some(msg.seen);
            engine.backoff.answered(log_up);
        }
    }
}

/// Run the pod's worker. `force` ignores the back-off (a user change); a busy pod is never
/// run twice at once: a forced kick is queued behind the running job instead.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Kicked")]
pub struct Kick {
    pub key: String,
    pub force: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kicked {
    Done(Result<(), String>),
    Busy,
    BackingOff,
    /// The actor runs without a device engine (replay-only tools, unit tests).
    NoEngine,
}

impl Handler<Kick> for PodsActor {
    type Result = ResponseActFuture<Self, Kicked>;

    fn handle(&mut self, msg: Kick, ctx: &mut Context<Self>) -> Self::Result {
        run(self, msg.key, msg.force, false, ctx)
    }
}

/// Rebuild the pod's containers even when neither spec nor digest changed
/// (`POST /api/v1/images/redeploy`, images.md §4.5). Like a forced kick, except that a busy
/// pod is not queued: the caller (the rollout) retries, so it learns the rebuild's outcome.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Kicked")]
pub struct Recreate {
    pub key: String,
}

impl Handler<Recreate> for PodsActor {
    type Result = ResponseActFuture<Self, Kicked>;

    fn handle(&mut self, msg: Recreate, ctx: &mut Context<Self>) -> Self::Result {
        if self
            .engine
            .as_ref()
            .is_some_and(|e| e.busy.contains(&msg.key))
        {
            return Box::pin(fut::ready(Kicked::Busy));
        }
        run(self, msg.key, true, true, ctx)
    }
}

fn run(
    act: &mut PodsActor,
    key: String,
    force: bool,
    recreate: bool,
    ctx: &mut Context<PodsActor>,
) -> ResponseActFuture<PodsActor, Kicked> {
    let Some(engine) = act.engine.as_mut() else {
        return Box::pin(fut::ready(Kicked::NoEngine));
    };
    if engine.busy.contains(&key) {
        if force {
            engine.again.insert(key);
        }
        return Box::pin(fut::ready(Kicked::Busy));
    }
    if !force && engine.backing_off(&key) {
        return Box::pin(fut::ready(Kicked::BackingOff));
    }
    engine.busy.insert(key.clone());
    let before = super::settled::before(&act.state, &key);
    let job = actix::spawn(worker::converge(
        engine.deps.clone(),
        ctx.address(),
        key.clone(),
        recreate,
        engine.seen.clone(),
    ));
    let done = async move {
        let result = job
            .await
            .unwrap_or_else(|e| Err(JobError::Aborted(e.to_string())));
        let outage = result.as_ref().err().and_then(JobError::outage);
        (result.map_err(|e| e.to_string()), outage)
    };
    Box::pin(done.into_actor(act).map(move |(result, outage), act, ctx| {
        if let Some(engine) = act.engine.as_mut() {
            engine.busy.remove(&key);
            match &result {
                Ok(()) => {
                    engine.backoff.succeeded(&key);
                    super::settled::announce(&act.state, &engine.deps.settled, &key, before);
                }
                Err(_) => engine.backoff.failed(&key, Instant::now(), outage),
            }
            if engine.again.remove(&key) {
                ctx.notify(Kick { key, force: true });
            }
        }
        Kicked::Done(result)
    }))
}

/// Which of `keys` the reconcile loop may run now (neither busy nor backing off).
#[derive(Debug, Message)]
#[rtype(result = "Vec<String>")]
pub struct Runnable {
    pub keys: Vec<String>,
}

impl Handler<Runnable> for PodsActor {
    type Result = MessageResult<Runnable>;

    fn handle(&mut self, msg: Runnable, _: &mut Context<Self>) -> Self::Result {
        let keys = match &self.engine {
            None => Vec::new(),
            Some(e) => msg
                .keys
                .into_iter()
                .filter(|k| !e.is_busy(k) && !e.backing_off(k))
                .collect(),
        };
        MessageResult(keys)
    }
}

/// Starts the worker of a pod after its desired state changed (declared, updated, deleted).
pub(super) fn kick_after_change(ctx: &mut Context<PodsActor>, namespace: &str, name: &str) {
    ctx.notify(Kick {
        key: pod_key(namespace, name),
        force: true,
    });
}
