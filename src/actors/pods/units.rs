//! What the lifecycle actor tells the pods actor (L-11: transitions push at once, they do
//! not wait for the next reconcile pass): restarts and failures become facts in the log,
//! health changes are kept in memory, and `OnFailed` (LC-6) recreates the owning pod.

use super::PodsActor;
use crate::actors::journal::commit;
use crate::events::catalogue::LifecycleEvent;
use actix::prelude::*;
use std::collections::BTreeMap;

/// A unit's state change as the lifecycle actor saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The device reported the container stopped (LC-3).
    Stopped,
    /// Started again by keepalive or a probe restart; `restarts` is the new count (LC-6).
    Restarted { restarts: u32, reason: String },
    /// Liveness or startup threshold crossed.
    Unhealthy { reason: String },
    /// A probe succeeded after failures.
    Recovered,
    /// Restarts reached `maxRestarts` (LC-6).
    Failed { reason: String },
}

impl Transition {
    pub fn label(&self) -> &'static str {
        match self {
            Transition::Stopped => "stopped",
            Transition::Restarted { .. } => "restarted",
            Transition::Unhealthy { .. } => "unhealthy",
            Transition::Recovered => "recovered",
            Transition::Failed { .. } => "failed",
        }
    }
}

/// L-11: one transition of one unit. Restarts and failures are recorded
/// (`UnitRestarted`, `UnitFailed`); every transition updates the in-memory health.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), String>")]
pub struct UnitTransition {
    pub unit: String,
    pub transition: Transition,
    pub correlation: String,
}

/// The last transition of every unit since this process started.
#[derive(Debug, Message)]
#[rtype(result = "BTreeMap<String, String>")]
pub struct GetUnitHealth;

impl Handler<GetUnitHealth> for PodsActor {
    type Result = MessageResult<GetUnitHealth>;

    fn handle(&mut self, _: GetUnitHealth, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.unit_health.clone())
    }
}

impl Handler<UnitTransition> for PodsActor {
    type Result = AtomicResponse<Self, Result<(), String>>;

    fn handle(&mut self, msg: UnitTransition, _: &mut Context<Self>) -> Self::Result {
        let Some(unit) = self.state.units.get(&msg.unit) else {
            return AtomicResponse::new(Box::pin(fut::ready(Err(format!(
                "unit {} is not registered",
                msg.unit
            )))));
        };
        tracing::info!(unit = %msg.unit, pod = %unit.pod, transition = msg.transition.label(), "lifecycle transition");
        self.unit_health
            .insert(msg.unit.clone(), msg.transition.label().to_string());
        let event = match msg.transition {
            Transition::Restarted { restarts, reason } => LifecycleEvent::UnitRestarted {
                unit: msg.unit,
                restarts,
                reason,
            },
            Transition::Failed { reason } if unit.failed.is_none() => LifecycleEvent::UnitFailed {
                unit: msg.unit,
                reason,
            },
            _ => return AtomicResponse::new(Box::pin(fut::ready(Ok(())))),
        };
        AtomicResponse::new(Box::pin(
            commit(self, event.into(), &msg.correlation)
                .map(|r, _, _| r.map(|_| ()).map_err(|e| e.to_string())),
        ))
    }
}

/// LC-6 `OnFailed` for `unit`: recreate its pod with fresh veths and addresses (§3.5) as a
/// queued per-pod job ([F], L-3: no short deadline; `fresh.rs`). Refused while the pod's
/// worker runs (skip redeploying pods, L-4).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Recreated")]
pub struct RecreateFailedUnit {
    pub unit: String,
    pub reason: String,
    pub correlation: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recreated {
    /// `UnitRecreating` recorded and the worker kicked.
    Queued(String),
    Busy,
    /// No tracked pod owns the unit (discovered container): a warning only.
    NoPod,
    NoEngine,
    Failed(String),
}

impl Handler<RecreateFailedUnit> for PodsActor {
    type Result = AtomicResponse<Self, Recreated>;

    fn handle(&mut self, msg: RecreateFailedUnit, _: &mut Context<Self>) -> Self::Result {
        let ready = |r| AtomicResponse::new(Box::pin(fut::ready(r)));
        let Some(engine) = self.engine.as_ref() else {
            return ready(Recreated::NoEngine);
        };
        let Some(pod) = self.state.units.get(&msg.unit).map(|u| u.pod.clone()) else {
            return ready(Recreated::NoPod);
        };
        if !self.state.pods.contains_key(&pod) {
            tracing::warn!(unit = %msg.unit, "OnFailed: no tracked pod owns the container");
            return ready(Recreated::NoPod);
        }
        if engine.is_busy(&pod) {
            return ready(Recreated::Busy);
        }
        tracing::warn!(unit = %msg.unit, %pod, reason = %msg.reason, "OnFailed: recreating pod");
        let event = LifecycleEvent::UnitRecreating {
            unit: msg.unit,
            pod: pod.clone(),
            reason: msg.reason,
        };
        AtomicResponse::new(super::fresh::recreate(
            self,
            pod,
            [event.into()].into(),
            msg.correlation,
        ))
    }
}
