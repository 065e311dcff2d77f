//! Crash points (DESIGN rule 6: crash safety is tested by killing the process). When
//! `MKUBE_CRASH_AT` names a point, the process aborts there as a power cut would: no
//! destructors, no final snapshot, no outcome event. Unset — always, outside tests — a point
//! costs one comparison.

use std::sync::OnceLock;

/// Every point, in the order a create and a teardown pass them.
pub const POINTS: &[&str] = &[
    "create.allocated",
    "create.intent",
    "create.veth",
    "create.container",
    "create.recorded",
    "delete.intent",
    "delete.container",
    "delete.veth",
    "delete.released",
];

pub fn point(name: &'static str) {
    static AT: OnceLock<Option<String>> = OnceLock::new();
    let at = AT.get_or_init(|| {
        std::env::var("MKUBE_CRASH_AT")
            .ok()
            .filter(|s| !s.is_empty())
    });
    if at.as_deref() == Some(name) {
        eprintln!("MKUBE_CRASH_AT={name}: aborting here");
        std::process::abort();
    }
}
