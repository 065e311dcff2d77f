//! The watchdog's readiness verdicts (§7.2 readiness, LC-2) published for pod status: unit
//! (device container) name → ready (startup done and the readiness probe passing). Readers
//! take the whole map as one snapshot without asking the actor.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<RwLock<Arc<HashMap<String, bool>>>>);

impl Readiness {
    /// The verdicts as of the last watchdog pass.
    pub fn snapshot(&self) -> Arc<HashMap<String, bool>> {
        self.0.read().map(|m| m.clone()).unwrap_or_default()
    }

    /// Replaces the verdicts (only when they changed, so readers keep sharing one map).
    pub fn publish(&self, verdicts: HashMap<String, bool>) {
        if let Ok(mut slot) = self.0.write()
            && **slot != verdicts
        {
            *slot = Arc::new(verdicts);
        }
    }
}
