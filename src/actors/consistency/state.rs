//! The consistency actor's state: CC-R4 failure counters, and the orphans whose reaping was
//! recorded (so a removal cut short by a crash is finished without a second fact).

use crate::events::catalogue::ConsistencyEvent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsistencyState {
    /// pod key → consecutive passes with a broken network.
    pub network_failures: BTreeMap<String, u32>,
    pub reaped_total: u64,
    /// `<resource>/<name>` → the `id` of its last recorded `OrphanReaped`. Absent in
    /// snapshots written before it existed.
    #[serde(default)]
    pub reaped: BTreeMap<String, String>,
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
            ConsistencyEvent::OrphanReaped {
                resource, name, id, ..
            } => {
                self.reaped_total += 1;
                self.reaped.insert(reap_key(resource, name), id.clone());
            }
        }
    }

    /// The consecutive broken passes recorded for pod `key`.
    pub fn failures(&self, key: &str) -> u32 {
        self.network_failures.get(key).copied().unwrap_or(0)
    }

    /// Whether reaping this very object (`resource`, `name`, `id`) was recorded already.
    pub fn reap_recorded(&self, resource: &str, name: &str, id: &str) -> bool {
        !id.is_empty()
            && self
                .reaped
                .get(&reap_key(resource, name))
                .map(String::as_str)
                == Some(id)
    }
}

fn reap_key(resource: &str, name: &str) -> String {
    format!("{resource}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_move_and_a_recorded_reap_is_known_by_its_id() {
        let mut s = ConsistencyState::default();
        s.apply(&ConsistencyEvent::NetworkFailureCounted {
            namespace: "default".into(),
            name: "web".into(),
            failures: 2,
        });
        assert_eq!(s.failures("default/web"), 2);
        s.apply(&ConsistencyEvent::NetworkRecovered {
            namespace: "default".into(),
            name: "web".into(),
        });
        assert_eq!(s.failures("default/web"), 0);
        s.apply(&ConsistencyEvent::OrphanReaped {
            resource: "container".into(),
            name: "default_x_app".into(),
            id: "*5".into(),
            reason: "CC-R1".into(),
        });
        assert!(s.reap_recorded("container", "default_x_app", "*5"));
        assert!(
            !s.reap_recorded("container", "default_x_app", "*6"),
            "a new object of the name"
        );
        assert!(!s.reap_recorded("veth", "default_x_app", "*5"));
        assert_eq!(s.reaped_total, 1);
    }
}
