use serde::{Deserialize, Serialize};

/// Lifecycle units (one per managed device container), owned by the pods actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all_fields = "camelCase")]
pub enum LifecycleEvent {
    UnitRegistered {
        unit: String,
        pod: String,
        restart_policy: String,
        start_on_boot: bool,
        priority: i64,
        depends_on: Vec<String>,
    },
    UnitRestarted {
        unit: String,
        restarts: u32,
        reason: String,
    },
    UnitFailed {
        unit: String,
        reason: String,
    },
    UnitUnregistered {
        unit: String,
    },
    /// LC-6 `OnFailed`: the owning pod is recreated fresh (§3.5: `ContainerRemoving` follows
    /// for each container, so veths and addresses are made anew). Folding clears the pod's
    /// units (restarts 0, failure mark gone) and bumps the pod's revision.
    UnitRecreating {
        unit: String,
        pod: String,
        reason: String,
    },
}

impl LifecycleEvent {
    pub fn unit(&self) -> &str {
        match self {
            LifecycleEvent::UnitRegistered { unit, .. }
            | LifecycleEvent::UnitRestarted { unit, .. }
            | LifecycleEvent::UnitFailed { unit, .. }
            | LifecycleEvent::UnitRecreating { unit, .. }
            | LifecycleEvent::UnitUnregistered { unit } => unit,
        }
    }

    pub fn key(&self) -> Vec<String> {
        vec![self.unit().to_string()]
    }
}
