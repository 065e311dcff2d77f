//! The consistency actor's state: CC-R4 failure counters and what it reaped.

use crate::events::catalogue::ConsistencyEvent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsistencyState {
    /// pod key → consecutive passes with a broken network.
    pub network_failures: BTreeMap<String, u32>,
    pub reaped_total: u64,
}

impl ConsistencyState {
    pub fn apply(&mut self, event: &ConsistencyEvent) {
        match event {
            ConsistencyEvent::NetworkFailureCounted {
                namespace,
                name,
                failures,
            } => {
                self.network_failures
                    .insert(format!("{namespace}/{name}"), *failures);
            }
            ConsistencyEvent::NetworkRecovered { namespace, name } => {
                self.network_failures.remove(&format!("{namespace}/{name}"));
            }
            ConsistencyEvent::OrphanReaped { .. } => self.reaped_total += 1,
        }
    }
}
