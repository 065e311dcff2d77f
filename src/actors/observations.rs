//! What mkube last saw of the device, per pod (DESIGN "Facts and observations";
//! controller.md §3.6). The log says a container was started; the reconcile pass and the
//! lifecycle watchdog each list the device's containers, and where the device disagrees — a
//! started container that is stopped, missing, in another state, or a device that cannot be
//! listed — the difference is kept here, in memory, never in the log. The watchdog adds its
//! readiness verdicts (§7.2). Pod status is rendered from the log *and* this, so it shows the
//! device as last observed.
//!
//! Every change bumps a generation and wakes the API's pod watches, which send `MODIFIED`
//! for the pods whose observation changed: a crashed container reaches `kubectl get pods -w`
//! within one watchdog interval, while a quiet site appends nothing and notifies nothing
//! (an unchanged listing is not a change). Generations start at the process's start time in
//! milliseconds, so a generation from an earlier process is always smaller than this one's
//! (watch resumption tells them apart, `api::watch`).
//!
//! An observation is ignored for a pod that has new events since the listing began (the
//! pod's subject sequence moved on): the listing may predate what the worker just did.

use crate::actors::pods::state::PodsState;
use crate::events::subject;
use crate::pod::status::{Deviation, PodObservation};
use crate::pod::{DesiredPod, Phase};
use crate::routeros::Container;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::watch;

/// All pods' observations as of one moment.
#[derive(Debug, Clone, Default)]
pub struct ObservationState {
    /// Generation of the newest change; 0 before the first.
    pub generation: u64,
    pub pods: HashMap<String, PodObservation>,
    /// The last container listing's outcome: when, and the error if it failed (the node's
    /// `RouterOSReachable` condition; not a pod change, so it wakes no watch).
    pub device: Option<DeviceContact>,
}

/// When the device was last listed, and how that went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceContact {
    pub at: chrono::DateTime<chrono::Utc>,
    pub error: Option<String>,
}

/// The next generation after `current`: this process's first one, then one more each time.
fn next(current: &mut u64, first: u64) -> u64 {
    *current = (*current + 1).max(first);
    *current
}

/// The shared store: written by the observers, read by the API.
#[derive(Clone)]
pub struct Observations {
    state: Arc<Mutex<Arc<ObservationState>>>,
    changed: watch::Sender<u64>,
    node: Arc<str>,
    /// The first generation this process hands out.
    first: u64,
}

impl Observations {
    pub fn new(node: &str) -> Observations {
        let first = chrono::Utc::now().timestamp_millis().max(1) as u64;
        let state = ObservationState::default();
        let (changed, _) = watch::channel(0);
        Observations {
            state: Arc::new(Mutex::new(Arc::new(state))),
            changed,
            node: node.into(),
            first,
        }
    }

    /// The current observations (shared, not copied).
    pub fn snapshot(&self) -> Arc<ObservationState> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The first generation this process hands out: anything smaller is from another process.
    pub fn first_generation(&self) -> u64 {
        self.first
    }

    /// Woken with the newest generation after every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// A container listing (or the reason it failed) taken after reading `pods` with the
    /// subject sequences `seqs` (read the pods first, then list).
    pub fn record_listing(
        &self,
        pods: &PodsState,
        seqs: &HashMap<String, u64>,
        listing: Result<&[Container], &str>,
    ) {
        let first = self.first;
        self.update(|state| {
            state.device = Some(DeviceContact {
                at: chrono::Utc::now(),
                error: listing.err().map(str::to_string),
            });
            let mut changed = false;
            state.pods.retain(|key, _| pods.pods.contains_key(key));
            for (key, desired) in &pods.pods {
                let pod = crate::pod::PodKey::parse(key);
                let subject = subject::for_key(&self.node, "pods", &[&pod.namespace, &pod.name]);
                let seq = seqs.get(&subject).copied().unwrap_or(0);
                let deviations = deviations(desired, listing);
                let entry = state.pods.entry(key.clone()).or_default();
                let differs = entry.deviations.len() != deviations.len()
                    || entry
                        .deviations
                        .iter()
                        .zip(&deviations)
                        .any(|((a, x), (b, y))| a != b || !x.same(y));
                // Deviations that did not apply (the pod moved on) apply again now: a change.
                let reapplies = entry.seq != seq && !deviations.is_empty();
                entry.seq = seq;
                if differs || reapplies {
                    entry.deviations = deviations;
                    changed = true;
                    entry.generation = next(&mut state.generation, first);
                }
            }
            changed
        });
    }

    /// The watchdog's readiness verdicts by unit (device container) name.
    pub fn record_readiness(&self, pods: &PodsState, verdicts: &HashMap<String, bool>) {
        let first = self.first;
        self.update(|state| {
            let mut changed = false;
            for (key, desired) in &pods.pods {
                let unready: BTreeSet<String> = desired
                    .containers
                    .iter()
                    .filter(|(_, rec)| verdicts.get(&rec.device_name) == Some(&false))
                    .map(|(name, _)| name.clone())
                    .collect();
                let entry = state.pods.entry(key.clone()).or_default();
                if entry.unready != unready {
                    entry.unready = unready;
                    changed = true;
                    entry.generation = next(&mut state.generation, first);
                }
            }
            changed
        });
    }

    /// Applies `change` to a copy of the state, publishes it, and wakes watchers when
    /// `change` says something changed.
    fn update(&self, change: impl FnOnce(&mut ObservationState) -> bool) {
        let generation = {
            let mut slot = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let mut next = (**slot).clone();
            if !change(&mut next) {
                // Sequences may have moved on: keep them, but nobody needs waking.
                *slot = Arc::new(next);
                return;
            }
            let generation = next.generation;
            *slot = Arc::new(next);
            generation
        };
        self.changed.send_replace(generation);
    }
}

/// How each started container of `desired` differs from running on the device.
fn deviations(
    desired: &DesiredPod,
    listing: Result<&[Container], &str>,
) -> BTreeMap<String, Deviation> {
    desired
        .containers
        .iter()
        .filter(|(_, rec)| rec.phase() == Phase::Started)
        .filter_map(|(name, rec)| {
            let deviation = match listing {
                Err(e) => Deviation::Unreachable(e.to_string()),
                Ok(rows) => match rows.iter().find(|r| r.name == rec.device_name) {
                    None => Deviation::Missing,
                    Some(r) if r.state.is_running() => return None,
                    Some(r) => Deviation::Listed(r.state.clone()),
                },
            };
            Some((name.clone(), deviation))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::catalogue::PodSource;
    use crate::pod::DeviceContainer;
    use crate::routeros::{ContainerState, FromRow, Row};
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    fn pods(started: bool) -> PodsState {
        let mut p = DesiredPod::new(Pod::default(), PodSource::Api);
        p.containers.insert(
            "app".into(),
            DeviceContainer {
                device_id: "*1".into(),
                started,
                ..DeviceContainer::named("default_web_app")
            },
        );
        let mut s = PodsState::default();
        s.pods.insert("default/web".into(), p);
        s
    }

    fn row(flags: serde_json::Value) -> Container {
        let mut v = json!({".id": "*1", "name": "default_web_app"});
        if let (Some(o), Some(f)) = (v.as_object_mut(), flags.as_object()) {
            o.extend(f.clone());
        }
        Container::from_row(&Row::from_value(v))
    }

    fn seqs(seq: u64) -> HashMap<String, u64> {
        HashMap::from([(subject::for_key("n", "pods", &["default", "web"]), seq)])
    }

    // §3.6: a started container the device shows stopped or missing is a deviation; a
    // running one is none. Only changes bump the generation and wake watchers.
    #[test]
    fn listings_record_deviations_and_only_changes_notify() {
        let o = Observations::new("n");
        let rx = o.subscribe();
        let first = o.first_generation() - 1;
        o.record_listing(
            &pods(true),
            &seqs(5),
            Ok(&[row(json!({"running": "true"}))]),
        );
        assert_eq!(o.snapshot().generation, 0, "running is what the log says");
        assert!(!rx.has_changed().unwrap());
        o.record_listing(
            &pods(true),
            &seqs(5),
            Ok(&[row(json!({"stopped": "true"}))]),
        );
        let s = o.snapshot();
        let p = &s.pods["default/web"];
        assert_eq!(
            p.deviations_at(5).unwrap()["app"],
            Deviation::Listed(ContainerState::Stopped)
        );
        assert_eq!(p.generation, first + 1);
        assert!(rx.has_changed().unwrap());
        // The same again is no change.
        o.record_listing(
            &pods(true),
            &seqs(5),
            Ok(&[row(json!({"stopped": "true"}))]),
        );
        assert_eq!(o.snapshot().generation, first + 1);
        o.record_listing(&pods(true), &seqs(5), Ok(&[]));
        assert_eq!(
            o.snapshot().pods["default/web"].deviations["app"],
            Deviation::Missing
        );
        o.record_listing(&pods(true), &seqs(5), Err("connection refused"));
        o.record_listing(&pods(true), &seqs(5), Err("timed out"));
        assert_eq!(
            o.snapshot().generation,
            first + 3,
            "error texts are no change"
        );
        o.record_listing(
            &pods(true),
            &seqs(5),
            Ok(&[row(json!({"running": "true"}))]),
        );
        assert!(o.snapshot().pods["default/web"].deviations.is_empty());
        assert_eq!(o.snapshot().generation, first + 4);
    }

    #[test]
    fn an_observation_older_than_the_pods_last_event_does_not_apply() {
        let o = Observations::new("n");
        o.record_listing(&pods(true), &seqs(5), Ok(&[]));
        let s = o.snapshot();
        assert!(s.pods["default/web"].deviations_at(5).is_some());
        assert!(s.pods["default/web"].deviations_at(6).is_none());
        // The next listing at the new sequence applies again: a change for watchers.
        let g = s.generation;
        o.record_listing(&pods(true), &seqs(6), Ok(&[]));
        assert_eq!(o.snapshot().generation, g + 1);
    }

    #[test]
    fn containers_not_started_are_the_workers_business() {
        let o = Observations::new("n");
        o.record_listing(&pods(false), &seqs(5), Ok(&[]));
        assert!(o.snapshot().pods["default/web"].deviations.is_empty());
    }

    #[test]
    fn readiness_verdicts_by_unit() {
        let o = Observations::new("n");
        let g = o.first_generation() - 1;
        let verdicts = HashMap::from([("default_web_app".to_string(), false)]);
        o.record_readiness(&pods(true), &verdicts);
        assert!(o.snapshot().pods["default/web"].unready.contains("app"));
        o.record_readiness(&pods(true), &verdicts);
        assert_eq!(o.snapshot().generation, g + 1);
        assert!(
            o.first_generation() > 1_600_000_000_000,
            "starts at the clock"
        );
    }
}
