//! Kubernetes Events derived from the pods facts of the log (controller.md §3.7): each fact
//! that tells a step of a pod's story becomes one Event.

use crate::api::ApiState;
use crate::api::cluster;
use crate::api::machinery::objects::time;
use crate::api::machinery::status::ApiError;
use crate::api::pods::view::pod_uid;
use crate::events::catalogue::PodsEvent;
use crate::events::{Event, Record};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event as KEvent, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use std::collections::BTreeMap;

/// How many events are served (the original kept a ring of 256).
pub const RING: usize = 256;

/// Folds pod events into Kubernetes Events; keeps what it needs of each pod (uid, images).
#[derive(Default)]
pub struct Deriver {
    node: String,
    pods: BTreeMap<String, Pod>,
    pub events: Vec<KEvent>,
}

impl Deriver {
    pub fn new(node: &str) -> Self {
        Deriver {
            node: node.into(),
            ..Default::default()
        }
    }

    /// Folds one pod event; returns the Kubernetes Events it produced.
    pub fn record(&mut self, seq: u64, at: DateTime<Utc>, event: &PodsEvent) -> Vec<KEvent> {
        let before = self.events.len();
        let (ns, name) = event.pod_key();
        let key = format!("{ns}/{name}");
        let emit = |this: &mut Self, kind: &str, reason: &str, msg: String, sub: Option<&str>| {
            let uid = this
                .pods
                .get(&key)
                .map(pod_uid)
                .unwrap_or_else(|| pod_uid(&bare(ns, name)));
            this.push(seq, at, (ns, name, &uid), kind, reason, msg, sub);
        };
        match event {
            PodsEvent::PodDeclared { pod, .. } => {
                self.pods.insert(key.clone(), (**pod).clone());
                let msg = format!("Successfully assigned {ns}/{name} to {}", self.node);
                emit(self, "Normal", "Scheduled", msg, None);
            }
            PodsEvent::PodUpdated { pod, .. } => {
                let mut pod = (**pod).clone();
                if let Some(old) = self.pods.get(&key) {
                    pod.metadata.uid = Some(pod_uid(old));
                }
                self.pods.insert(key, pod);
            }
            PodsEvent::ContainerCreated {
                container,
                device_name,
                adopted,
                ..
            } => {
                if *adopted {
                    let msg = format!("Adopted existing container {device_name}");
                    emit(self, "Normal", "Reconciled", msg, Some(container));
                } else {
                    let image = self.image_of(&key, container);
                    let pulling = format!("Pulling image {image:?}");
                    emit(self, "Normal", "Pulling", pulling, Some(container));
                    let msg = format!("Created container {container}");
                    emit(self, "Normal", "Created", msg, Some(container));
                }
            }
            PodsEvent::ContainerStarted { container, .. } => {
                let msg = format!("Started container {container}");
                emit(self, "Normal", "Started", msg, Some(container));
            }
            // Intents and teardown bookkeeping: the outcomes above tell the story.
            PodsEvent::ContainerRemoved { .. }
            | PodsEvent::ContainerCreating { .. }
            | PodsEvent::ContainerRemoving { .. }
            | PodsEvent::PodRemoved { .. } => {}
            PodsEvent::PodDeleted { .. } => {
                let msg = format!("Stopping pod {ns}/{name}");
                emit(self, "Normal", "Killing", msg, None);
                self.pods.remove(&key);
            }
            PodsEvent::PodCreateFailed { reason, .. } => {
                emit(self, "Warning", "CreateFailed", reason.clone(), None);
            }
        }
        let produced = self.events[before..].to_vec();
        if self.events.len() > RING {
            let extra = self.events.len() - RING;
            self.events.drain(..extra);
        }
        produced
    }

    fn image_of(&self, key: &str, container: &str) -> String {
        self.pods
            .get(key)
            .and_then(|p| p.spec.as_ref())
            .and_then(|s| s.containers.iter().find(|c| c.name == container))
            .and_then(|c| c.image.clone())
            .unwrap_or_default()
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        seq: u64,
        at: DateTime<Utc>,
        (ns, name, uid): (&str, &str, &str),
        kind: &str,
        reason: &str,
        message: String,
        container: Option<&str>,
    ) {
        // NAME-11: `<pod>.<unix-nanos in hex>`; the index keeps two events of one record apart.
        let nanos = (at.timestamp_nanos_opt().unwrap_or_default() as u64)
            .wrapping_add(self.events.len() as u64);
        let when = time(at);
        self.events.push(KEvent {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{nanos:x}")),
                namespace: Some(ns.into()),
                resource_version: Some(seq.to_string()),
                creation_timestamp: when.clone(),
                uid: Some(crate::api::machinery::objects::derived_uid(&format!(
                    "event/{seq}/{reason}/{nanos}"
                ))),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                namespace: Some(ns.into()),
                name: Some(name.into()),
                uid: Some(uid.into()),
                field_path: container.map(|c| format!("spec.containers{{{c}}}")),
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(message),
            type_: Some(kind.into()),
            count: Some(1),
            first_timestamp: when.clone(),
            last_timestamp: when,
            event_time: k8s_openapi::jiff::Timestamp::new(at.timestamp(), 0)
                .ok()
                .map(MicroTime),
            source: Some(EventSource {
                component: Some("mkube".into()),
                host: Some(self.node.clone()),
            }),
            reporting_component: Some("mkube".into()),
            reporting_instance: Some(self.node.clone()),
            ..Default::default()
        });
    }
}

fn bare(ns: &str, name: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The Events of the log up to `until` (inclusive), and the deriver that made them.
pub(super) async fn derive(state: &ApiState, until: u64) -> Result<Deriver, ApiError> {
    let cluster = cluster(state)?;
    let unavailable = |e: crate::events::LogError| ApiError::unavailable(e.to_string());
    let first = cluster.log.first_sequence().await.map_err(unavailable)?;
    let mut deriver = Deriver::new(&state.node);
    if until < first {
        return Ok(deriver);
    }
    let records = cluster.log.read(first, until).await.map_err(unavailable)?;
    let mut records = Box::pin(records);
    while let Some(record) = records.next().await {
        let record: Record = record.map_err(unavailable)?;
        if let Ok(env) = record.decode()
            && let Event::Pods(e) = &env.event
        {
            deriver.record(record.seq, env.time, e);
        }
    }
    Ok(deriver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pods_story_reads_as_kubernetes_events() {
        let mut d = Deriver::new("rose1");
        let mut pod = bare("default", "web");
        pod.metadata.uid = Some("u-1".into());
        pod.spec = Some(k8s_openapi::api::core::v1::PodSpec {
            containers: vec![k8s_openapi::api::core::v1::Container {
                name: "c".into(),
                image: Some("img:v1".into()),
                ..Default::default()
            }],
            ..Default::default()
        });
        let now = Utc::now();
        let s = |x: &str| x.to_string();
        let events = [
            PodsEvent::PodDeclared {
                namespace: s("default"),
                name: s("web"),
                source: crate::events::catalogue::PodSource::Api,
                pod: Box::new(pod),
            },
            PodsEvent::ContainerCreated {
                namespace: s("default"),
                name: s("web"),
                container: s("c"),
                device_name: s("default_web_c"),
                device_id: s("*1"),
                adopted: false,
            },
            PodsEvent::ContainerStarted {
                namespace: s("default"),
                name: s("web"),
                container: s("c"),
            },
            PodsEvent::PodCreateFailed {
                namespace: s("default"),
                name: s("web"),
                reason: s("boom"),
                waiting_reason: String::new(),
            },
            PodsEvent::PodDeleted {
                namespace: s("default"),
                name: s("web"),
            },
        ];
        for (i, e) in events.iter().enumerate() {
            d.record(i as u64 + 1, now, e);
        }
        let reasons: Vec<_> = d.events.iter().map(|e| e.reason.clone().unwrap()).collect();
        assert_eq!(
            reasons,
            [
                "Scheduled",
                "Pulling",
                "Created",
                "Started",
                "CreateFailed",
                "Killing"
            ]
        );
        assert!(
            d.events
                .iter()
                .all(|e| e.involved_object.uid.as_deref() == Some("u-1"))
        );
        assert_eq!(d.events[4].type_.as_deref(), Some("Warning"));
        assert_eq!(
            d.events[1].message.as_deref(),
            Some("Pulling image \"img:v1\"")
        );
        let names: std::collections::BTreeSet<_> =
            d.events.iter().map(|e| e.metadata.name.clone()).collect();
        assert_eq!(names.len(), d.events.len(), "event names are unique");
    }
}
