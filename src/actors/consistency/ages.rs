//! How long each desired pod's current device containers have existed, as this process saw
//! them (L-4: repairs skip pods created less than `lifecycle.recreateGraceSeconds` ago). A
//! pod's age starts when its recorded container ids change (a create, a rebuild) or when this
//! process first sees it, so after a restart no pod is rebuilt within the grace. In memory.

use crate::actors::pods::state::PodsState;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default)]
pub struct Ages(HashMap<String, (String, Instant)>);

impl Ages {
    /// Notes the desired pods' container ids as of `now`; forgets pods no longer desired.
    pub fn observe(&mut self, pods: &PodsState, now: Instant) {
        self.0.retain(|key, _| pods.pods.contains_key(key));
        for (key, p) in &pods.pods {
            let ids: Vec<&str> = p
                .containers
                .values()
                .map(|c| c.device_id.as_str())
                .collect();
            let ids = ids.join(",");
            match self.0.get(key) {
                Some((seen, _)) if *seen == ids => {}
                _ => {
                    self.0.insert(key.clone(), (ids, now));
                }
            }
        }
    }

    /// The pod was just queued for a rebuild: young again until its new containers age.
    pub fn rebuilt(&mut self, key: &str, now: Instant) {
        self.0.insert(key.to_string(), ("rebuilding".into(), now));
    }

    /// Within its grace: seen for less than `grace` (unknown pods count as new).
    pub fn young(&self, key: &str, now: Instant, grace: Duration) -> bool {
        self.0
            .get(key)
            .is_none_or(|(_, since)| now.saturating_duration_since(*since) < grace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::consistency::fixtures::*;

    #[test]
    fn a_pod_is_young_until_its_containers_are_older_than_the_grace() {
        let t0 = Instant::now();
        let grace = Duration::from_secs(300);
        let mut state = pods(vec![running("default", "web", "127.77.0.2")]);
        let mut ages = Ages::default();
        ages.observe(&state, t0);
        assert!(ages.young("default/web", t0 + Duration::from_secs(10), grace));
        ages.observe(&state, t0 + Duration::from_secs(400));
        assert!(!ages.young("default/web", t0 + Duration::from_secs(400), grace));
        // Rebuilt: new container ids start the grace again.
        state
            .pods
            .get_mut("default/web")
            .unwrap()
            .containers
            .get_mut("app")
            .unwrap()
            .device_id = "*9".into();
        ages.observe(&state, t0 + Duration::from_secs(500));
        assert!(ages.young("default/web", t0 + Duration::from_secs(600), grace));
        ages.rebuilt("default/web", t0 + Duration::from_secs(900));
        assert!(ages.young("default/web", t0 + Duration::from_secs(901), grace));
        assert!(!ages.young("default/web", t0 + Duration::from_secs(901), Duration::ZERO));
        assert!(ages.young("default/unknown", t0, grace));
    }
}
