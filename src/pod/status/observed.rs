//! What the device last showed of one pod, as its status needs it (the store that keeps
//! these is `actors::observations`).

use crate::routeros::ContainerState;
use std::collections::{BTreeMap, BTreeSet};

/// How a started container's device state differs from "running".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deviation {
    /// The device has no container of the recorded name.
    Missing,
    /// The device lists it in this (non-running) state.
    Listed(ContainerState),
    /// The device could not be listed; the text says why.
    Unreachable(String),
}

impl Deviation {
    /// Equal for change detection: an unreachable device with another error text is no change.
    pub(crate) fn same(&self, other: &Deviation) -> bool {
        match (self, other) {
            (Deviation::Unreachable(_), Deviation::Unreachable(_)) => true,
            (a, b) => a == b,
        }
    }
}

/// One pod's observation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodObservation {
    /// The pod's subject sequence when the listing began; the deviations apply only while
    /// the pod has no later event.
    pub seq: u64,
    /// Spec container name → how its device container differs from running.
    pub deviations: BTreeMap<String, Deviation>,
    /// Spec container names whose readiness probe fails (§7.2 readiness).
    pub unready: BTreeSet<String>,
    /// Generation of this observation's last change (0: none yet).
    pub generation: u64,
}

impl PodObservation {
    /// The deviations, if they still apply to a pod whose last event has sequence `seq`.
    pub fn deviations_at(&self, seq: u64) -> Option<&BTreeMap<String, Deviation>> {
        (self.seq >= seq).then_some(&self.deviations)
    }
}
