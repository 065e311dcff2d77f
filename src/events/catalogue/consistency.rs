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
    /// An orphaned device object that mkube owned was removed.
    OrphanReaped { resource: String, name: String },
}

impl ConsistencyEvent {
    /// One subject for the checker: its events are few and ordered together.
    pub fn key(&self) -> Vec<String> {
        Vec::new()
    }
}
