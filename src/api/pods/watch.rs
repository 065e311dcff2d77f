//! Pod watches: every log event about a watched pod, and every change of what the device
//! showed of it (`actors::observations`). An observation is not an event, so it does not
//! advance the log; it reaches a watch as `MODIFIED` with a `resourceVersion` of
//! `<last sequence>.<generation>` (`version.rs`), in generation order.
//!
//! The version a line carries says what the client has: every record up to its sequence and
//! every observation change up to its generation (pending observation changes are sent
//! before the next record). Resuming from it replays the log after the sequence and sends
//! the pods whose observation changed after the generation; a generation from an earlier
//! mkube process (smaller than this one's first) makes it send every watched pod once, since
//! what that process showed is unknown here.

use crate::api::ApiState;
use crate::api::machinery::objects::typed;
use crate::api::machinery::params::ListParams;
use crate::api::machinery::version::ResourceVersion;
use crate::api::machinery::watch::{Begin, Follow, Reply, Watched, begin, line, respond};
use crate::api::pods::view::{PodsView, pods_view, render};
use crate::api::pods::{table as pod_table, view};
use crate::events::catalogue::{LifecycleEvent, PodSource, PodsEvent};
use crate::events::{Event, Record};
use crate::pod::{DesiredPod, pod_key};
use actix_web::{HttpRequest, web};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

fn pod_object(pod: &Pod, as_table: bool, rv: ResourceVersion) -> Value {
    if as_table {
        pod_table::table(std::slice::from_ref(pod), rv)
    } else {
        typed(pod, "Pod", "v1")
    }
}

/// A deleted pod as the watch reports it: its last known object, else namespace and name.
fn deleted_pod(last: Option<Pod>, ns: &str, name: &str) -> Pod {
    last.unwrap_or_else(|| Pod {
        metadata: ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    })
}

/// One pod watch's state between inputs.
struct PodWatch {
    api: ApiState,
    view: PodsView,
    ns: Option<String>,
    params: ListParams,
    as_table: bool,
    /// Each pod's sequence as the view holds it: older events are already folded in.
    known: BTreeMap<String, u64>,
    /// The last record seen.
    position: u64,
    /// Every observation change up to this generation has been sent.
    sent: u64,
}

impl PodWatch {
    /// The pod as the view shows it, with `version` as its `resourceVersion`.
    fn render(&self, key: &str, desired: &DesiredPod, version: ResourceVersion) -> Pod {
        let own = ResourceVersion {
            seq: self.known.get(key).copied().unwrap_or(version.seq),
            generation: 0,
        };
        let mut pod = render(desired, own, &self.api.status_inputs(&self.view));
        pod.metadata.resource_version = Some(version.to_string());
        pod
    }

    fn selected(&self, pod: &Pod) -> bool {
        let pod_ns = crate::pod::namespace_of(&pod.metadata);
        self.ns.as_deref().is_none_or(|ns| ns == pod_ns)
            && self.params.labels_match(pod.metadata.labels.as_ref())
            && self
                .params
                .fields_match(|f| view::pod_field(pod, f))
                .unwrap_or(false)
    }

    /// `MODIFIED` for every watched pod whose observation changed after `self.sent` (all of
    /// them with `everything`), oldest change first.
    fn observe(&mut self, everything: bool) -> Vec<web::Bytes> {
        let snapshot = self.api.cluster.get().map(|c| c.observations.snapshot());
        let Some(snapshot) = snapshot else {
            return Vec::new();
        };
        if snapshot.generation <= self.sent && !everything {
            return Vec::new();
        }
        self.view.observations = snapshot.clone();
        let mut changed: Vec<(u64, &String)> = if everything {
            self.view.pods.pods.keys().map(|k| (0, k)).collect()
        } else {
            snapshot
                .pods
                .iter()
                .filter(|(_, o)| o.generation > self.sent)
                .map(|(k, o)| (o.generation, k))
                .collect()
        };
        changed.sort();
        let mut out = Vec::new();
        for (generation, key) in changed {
            let Some(desired) = self.view.pods.pods.get(key) else {
                continue;
            };
            let version = ResourceVersion {
                seq: self.position,
                generation: if everything {
                    snapshot.generation
                } else {
                    generation
                },
            };
            let pod = self.render(key, desired, version);
            if self.selected(&pod) {
                out.push(line("MODIFIED", &pod_object(&pod, self.as_table, version)));
            }
        }
        // After a resend of everything, an earlier process's generation is not kept.
        self.sent = if everything {
            snapshot.generation
        } else {
            snapshot.generation.max(self.sent)
        };
        out
    }

    fn on_record(&mut self, record: &Record) -> Vec<web::Bytes> {
        // What the client has must include every observation change before this record.
        let mut out = self.observe(false);
        self.position = record.seq;
        let Ok(envelope) = record.decode() else {
            return out;
        };
        let event = match envelope.event {
            Event::Ipam(e) => {
                Arc::make_mut(&mut self.view.ipam).apply(&e);
                return out;
            }
            Event::Lifecycle(e) => {
                out.extend(self.lifecycle(record, &e));
                return out;
            }
            Event::Pods(e) => e,
            _ => return out,
        };
        let (pod_ns, name) = event.pod_key();
        let (pod_ns, name) = (pod_ns.to_string(), name.to_string());
        let key = pod_key(&pod_ns, &name);
        let version = ResourceVersion {
            seq: record.seq,
            generation: self.sent,
        };
        let before = self
            .view
            .pods
            .pods
            .get(&key)
            .map(|d| self.render(&key, d, version));
        if record.seq > self.known.get(&key).copied().unwrap_or(0) {
            Arc::make_mut(&mut self.view.pods).apply(&event);
            self.known.insert(key.clone(), record.seq);
        }
        // Resuming inside a pod's history whose declaration came before the resume point: its
        // update still shows the pod (the fold alone would ignore an update of an unknown pod).
        if let PodsEvent::PodUpdated { pod, .. } = &event
            && !self.view.pods.pods.contains_key(&key)
        {
            let desired = DesiredPod::new((**pod).clone(), PodSource::Api);
            Arc::make_mut(&mut self.view.pods)
                .pods
                .insert(key.clone(), desired);
        }
        let (kind, pod) = match &event {
            PodsEvent::PodDeleted { .. } => {
                let mut pod = deleted_pod(before, &pod_ns, &name);
                pod.metadata.resource_version = Some(version.to_string());
                ("DELETED", pod)
            }
            other => {
                let Some(desired) = self.view.pods.pods.get(&key) else {
                    return out;
                };
                let kind = if matches!(other, PodsEvent::PodDeclared { .. }) {
                    "ADDED"
                } else {
                    "MODIFIED"
                };
                (kind, self.render(&key, desired, version))
            }
        };
        if self.selected(&pod) {
            out.push(line(kind, &pod_object(&pod, self.as_table, version)));
        }
        out
    }

    /// A unit's restart count or failure is part of its pod's status: `MODIFIED`.
    fn lifecycle(&mut self, record: &Record, event: &LifecycleEvent) -> Vec<web::Bytes> {
        let key = match event {
            LifecycleEvent::UnitRegistered { pod, .. }
            | LifecycleEvent::UnitRecreating { pod, .. } => pod.clone(),
            other => match self.view.pods.units.get(other.unit()) {
                Some(unit) => unit.pod.clone(),
                None => return Vec::new(),
            },
        };
        // Resuming: what the view folded already is not folded twice.
        let folded = self.view.seqs.get(&record.subject).copied().unwrap_or(0);
        if record.seq > folded {
            Arc::make_mut(&mut self.view.pods).apply_lifecycle(event);
        }
        let Some(desired) = self.view.pods.pods.get(&key) else {
            return Vec::new();
        };
        let version = ResourceVersion {
            seq: record.seq,
            generation: self.sent,
        };
        let pod = self.render(&key, desired, version);
        if !self.selected(&pod) {
            return Vec::new();
        }
        vec![line("MODIFIED", &pod_object(&pod, self.as_table, version))]
    }
}

impl Watched for PodWatch {
    fn kind(&self) -> &'static str {
        "Pod"
    }

    fn record(&mut self, record: &Record) -> Vec<web::Bytes> {
        self.on_record(record)
    }

    fn observed(&mut self) -> Vec<web::Bytes> {
        self.observe(false)
    }

    fn version(&self) -> ResourceVersion {
        ResourceVersion {
            seq: self.position,
            generation: self.sent,
        }
    }
}

pub async fn pods(
    state: &ApiState,
    req: &HttpRequest,
    ns: Option<String>,
    params: ListParams,
) -> Reply {
    let Begin {
        cluster,
        as_table,
        from,
        send_current,
    } = begin(state, req, &params).await?;
    let view: PodsView = pods_view(state).await?;
    let current = view::rendered_pods(state, &view, ns.as_deref(), &ListParams::default()).await?;
    let resumed_at = params.resource_version.map_or(0, |v| v.generation);
    let mut watch = PodWatch {
        api: state.clone(),
        sent: if send_current {
            view.observations.generation
        } else {
            resumed_at
        },
        view,
        ns,
        params,
        as_table,
        known: BTreeMap::new(),
        position: from.saturating_sub(1),
    };
    let mut initial = Vec::new();
    for pod in &current {
        let rv: ResourceVersion = pod
            .metadata
            .resource_version
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        let key = pod_key(
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default(),
        );
        watch.known.insert(key, rv.seq);
        if send_current && watch.selected(pod) {
            initial.push(line("ADDED", &pod_object(pod, as_table, rv)));
        }
    }
    // Validated now, so a bad selector is a 400 rather than a silent empty stream.
    for pod in &current {
        watch.params.fields_match(|f| view::pod_field(pod, f))?;
    }
    if !send_current {
        let earlier_process =
            resumed_at > 0 && resumed_at < cluster.observations.first_generation();
        initial.extend(watch.observe(earlier_process));
    }
    let follow = Follow {
        observed: Some(cluster.observations.subscribe()),
        ..Follow::of(&watch.params)
    };
    Ok(respond(&cluster, from, initial, follow, watch))
}
