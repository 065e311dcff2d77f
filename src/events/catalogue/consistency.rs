use serde::{Deserialize, Serialize};

/// What the consistency checker changed or counted (CC-R1…CC-R5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all_fields = "camelCase")]
pub enum ConsistencyEvent {
    /// A desired pod's network was found broken; `failures` consecutive passes so far (CC-R4).
    NetworkFailureCounted {
        namespace: String,
        name: String,
        failures: u32,
    },
    /// The pod's network is healthy again; its counter is cleared.
    NetworkRecovered { namespace: String, name: String },
    /// An orphaned device object (`container`, `veth`) or IPAM entry (`allocation`) that no
    /// desired or deleting pod claims was found and is being removed: recorded before the
    /// removal, so a crash in between is finished by the next pass without a second fact.
    OrphanReaped {
        resource: String,
        name: String,
        /// What identified the object: the RouterOS `.id` of a container or veth, the
        /// `<network>/<address>` of an allocation. Empty in events written before it existed.
        #[serde(default)]
        id: String,
        /// Why (the rule and what was seen), e.g. `CC-R1: no pod claims it (running)`.
        #[serde(default)]
        reason: String,
    },
}

impl ConsistencyEvent {
    /// One subject for the checker: its events are few and ordered together.
    pub fn key(&self) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orphan_reaped_as_first_written_still_decodes() {
        let old: ConsistencyEvent = serde_json::from_value(serde_json::json!({
            "kind": "OrphanReaped",
            "payload": {"resource": "container", "name": "default_x_app"}
        }))
        .unwrap();
        assert_eq!(
            old,
            ConsistencyEvent::OrphanReaped {
                resource: "container".into(),
                name: "default_x_app".into(),
                id: String::new(),
                reason: String::new(),
            }
        );
    }
}
