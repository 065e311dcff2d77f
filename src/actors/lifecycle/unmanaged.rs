//! LC-1 discovery: device containers with `start-on-boot` that belong to no desired pod (the
//! operator's own, or mkube's predecessor's) are watched as unmanaged units: the watchdog
//! starts them again when they stop (LC-3), with the same cooldown (LC-4). They have no
//! probes and no recorded facts; their runtime lives in this actor's memory. Containers whose
//! name has no `_` (the controller's own, CC-R1) are never touched. A NAME-1-shaped one
//! (`<ns>_<pod>_<container>`) is an orphan to the consistency checker, which reaps it when the
//! repair pass is on and its guards allow (CC-R1); until then, and always with repair off or
//! in a dry run, it is kept running here.

use crate::actors::pods::state::PodsState;
use crate::routeros::Container;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Runtime of one unmanaged unit.
#[derive(Debug, Clone, Default)]
pub(super) struct Unmanaged {
    last_start: Option<Instant>,
    starting: bool,
}

/// Device names of every container a desired or deleting pod owns.
fn managed_names(state: &PodsState) -> BTreeSet<&str> {
    state
        .pods
        .values()
        .chain(state.deleting.values())
        .flat_map(|p| p.containers.values())
        .map(|c| c.device_name.as_str())
        .chain(state.units.keys().map(String::as_str))
        .collect()
}

/// Syncs the unmanaged units with the listing; returns (name, device id) of those to start.
pub(super) fn plan(
    units: &mut BTreeMap<String, Unmanaged>,
    state: &PodsState,
    rows: &[Container],
    cooldown: Duration,
    now: Instant,
) -> Vec<(String, String)> {
    let managed = managed_names(state);
    let found: Vec<&Container> = rows
        .iter()
        .filter(|r| r.start_on_boot && r.name.contains('_') && !managed.contains(r.name.as_str()))
        .collect();
    units.retain(|name, _| found.iter().any(|r| &r.name == name));
    let mut starts = Vec::new();
    for row in found {
        let unit = units.entry(row.name.clone()).or_insert_with(|| {
            tracing::info!(container = %row.name, "LC-1: unmanaged start-on-boot container discovered");
            Unmanaged::default()
        });
        let cooling = unit
            .last_start
            .is_some_and(|t| now.saturating_duration_since(t) < cooldown);
        if row.state.is_stopped() && !unit.starting && !cooling && !row.id.is_empty() {
            unit.starting = true;
            starts.push((row.name.clone(), row.id.clone()));
        }
    }
    starts
}

/// Folds the outcome of a start back.
pub(super) fn started(units: &mut BTreeMap<String, Unmanaged>, name: &str, ok: bool, now: Instant) {
    if let Some(u) = units.get_mut(name) {
        u.starting = false;
        if ok {
            u.last_start = Some(now);
        }
    }
}
