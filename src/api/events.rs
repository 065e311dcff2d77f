//! Kubernetes Events (controller.md §3.7), derived from the log rather than kept in memory:
//! `Scheduled` on `PodDeclared`, `Pulling`/`Created` on `ContainerCreated` (`Reconciled` when
//! adopted), `Started` on `ContainerStarted`, `Killing` on `PodDeleted`, `CreateFailed`
//! (Warning) on `PodCreateFailed`. The newest 256 are served, so `kubectl get events` and
//! `kubectl describe pod` show a pod's story; `?watch=true` streams new ones as `ADDED`.

use crate::api::ApiState;
use crate::api::cluster;
use crate::api::machinery::objects::{age, list, time, typed};
use crate::api::machinery::params::ListParams;
use crate::api::machinery::status::{ApiError, method_not_allowed};
use crate::api::machinery::table::{col, row, table, wants_table};
use crate::api::machinery::watch;
use crate::api::pods::view::pod_uid;
use crate::events::catalogue::PodsEvent;
use crate::events::{Event, Record};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event as KEvent, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use serde_json::json;
use std::collections::BTreeMap;

/// How many events are served (the original kept a ring of 256).
pub const RING: usize = 256;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/events", web::get().to(list_all))
        .route("/api/v1/events", web::route().to(method_not_allowed))
        .route("/api/v1/namespaces/{ns}/events", web::get().to(list_ns))
        .route(
            "/api/v1/namespaces/{ns}/events",
            web::route().to(method_not_allowed),
        )
        .route(
            "/api/v1/namespaces/{ns}/events/{name}",
            web::get().to(get_one),
        )
        .route(
            "/api/v1/namespaces/{ns}/events/{name}",
            web::route().to(method_not_allowed),
        );
}

type Reply = Result<HttpResponse, ApiError>;

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

fn field(e: &KEvent, f: &str) -> Option<String> {
    let o = &e.involved_object;
    Some(
        match f {
            "involvedObject.name" => o.name.clone(),
            "involvedObject.namespace" => o.namespace.clone(),
            "involvedObject.uid" => o.uid.clone(),
            "involvedObject.kind" => o.kind.clone(),
            "involvedObject.apiVersion" => o.api_version.clone(),
            "involvedObject.fieldPath" => o.field_path.clone(),
            "involvedObject.resourceVersion" => o.resource_version.clone(),
            "reason" => e.reason.clone(),
            "type" => e.type_.clone(),
            "source" => Some("mkube".into()),
            "metadata.name" => e.metadata.name.clone(),
            "metadata.namespace" => e.metadata.namespace.clone(),
            _ => return None,
        }
        .unwrap_or_default(),
    )
}

/// The Events of the log up to `until` (inclusive), and the deriver that made them.
async fn derive(state: &ApiState, until: u64) -> Result<Deriver, ApiError> {
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

fn selected(e: &KEvent, ns: Option<&str>, params: &ListParams) -> Result<bool, ApiError> {
    if ns.is_some_and(|n| e.metadata.namespace.as_deref() != Some(n)) {
        return Ok(false);
    }
    params.fields_match(|f| field(e, f))
}

fn event_object(e: &KEvent, as_table: bool, rv: u64) -> serde_json::Value {
    if as_table {
        events_table(std::slice::from_ref(e), rv)
    } else {
        typed(e, "Event", "v1")
    }
}

/// `?watch=true`: every Event as `ADDED` (first those derived so far unless resuming after a
/// version), then the ones each new pod fact produces.
async fn watch_events(
    state: &ApiState,
    req: &HttpRequest,
    ns: Option<String>,
    params: ListParams,
) -> Reply {
    let watch::Begin {
        cluster,
        as_table,
        from,
        send_current,
    } = watch::begin(state, req, &params).await?;
    let mut deriver = derive(state, from.saturating_sub(1)).await?;
    let mut initial = Vec::new();
    if send_current {
        for e in &deriver.events {
            if selected(e, ns.as_deref(), &params)? {
                let rv = e
                    .metadata
                    .resource_version
                    .as_deref()
                    .and_then(|v| v.parse().ok());
                initial.push(watch::line(
                    "ADDED",
                    &event_object(e, as_table, rv.unwrap_or(0)),
                ));
            }
        }
    }
    let follow = watch::Follow::of(&params);
    let on_record = move |record: &Record| -> Vec<web::Bytes> {
        let Ok(env) = record.decode() else {
            return Vec::new();
        };
        let Event::Pods(e) = &env.event else {
            return Vec::new();
        };
        deriver
            .record(record.seq, env.time, e)
            .iter()
            .filter(|k| selected(k, ns.as_deref(), &params).unwrap_or(false))
            .map(|k| watch::line("ADDED", &event_object(k, as_table, record.seq)))
            .collect()
    };
    let watched = watch::LogWatch::new("Event", from, on_record);
    Ok(watch::respond(&cluster, from, initial, follow, watched))
}

async fn list_all(state: web::Data<ApiState>, req: HttpRequest) -> Reply {
    list_events(&state, &req, None).await
}

async fn list_ns(state: web::Data<ApiState>, req: HttpRequest, ns: web::Path<String>) -> Reply {
    list_events(&state, &req, Some(ns.into_inner())).await
}

/// One event by namespace and name (the `get` verb discovery announces).
async fn get_one(
    state: web::Data<ApiState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Reply {
    let (ns, name) = path.into_inner();
    let cluster = cluster(&state)?;
    let last = cluster
        .log
        .last_sequence()
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let event = derive(&state, last)
        .await?
        .events
        .into_iter()
        .find(|e| {
            e.metadata.namespace.as_deref() == Some(ns.as_str())
                && e.metadata.name.as_deref() == Some(name.as_str())
        })
        .ok_or_else(|| ApiError::not_found(format!("events \"{name}\" not found")))?;
    if wants_table(&req) {
        return Ok(HttpResponse::Ok().json(events_table(std::slice::from_ref(&event), last)));
    }
    Ok(HttpResponse::Ok().json(typed(&event, "Event", "v1")))
}

async fn list_events(state: &ApiState, req: &HttpRequest, ns: Option<String>) -> Reply {
    let params = ListParams::from_request(req)?;
    if params.watch {
        return watch_events(state, req, ns, params).await;
    }
    let cluster = cluster(state)?;
    let last = cluster
        .log
        .last_sequence()
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let events = derive(state, last).await?.events;
    let mut selected = Vec::new();
    for e in events {
        if ns
            .as_deref()
            .is_some_and(|n| e.metadata.namespace.as_deref() != Some(n))
        {
            continue;
        }
        if params.fields_match(|f| field(&e, f))? {
            selected.push(e);
        }
    }
    if wants_table(req) {
        return Ok(HttpResponse::Ok().json(events_table(&selected, last)));
    }
    let items = selected.iter().map(|e| typed(e, "Event", "v1")).collect();
    Ok(HttpResponse::Ok().json(list("EventList", last, items)))
}

fn events_table(events: &[KEvent], rv: u64) -> serde_json::Value {
    let columns = [
        col("Last Seen", "string", 0),
        col("Type", "string", 0),
        col("Reason", "string", 0),
        col("Object", "string", 0),
        col("Message", "string", 0),
    ];
    let rows = events
        .iter()
        .map(|e| {
            let o = &e.involved_object;
            let object = format!(
                "{}/{}",
                o.kind.as_deref().unwrap_or_default().to_lowercase(),
                o.name.as_deref().unwrap_or_default()
            );
            let cells = vec![
                json!(age(e.last_timestamp.as_ref())),
                json!(e.type_),
                json!(e.reason),
                json!(object),
                json!(e.message),
            ];
            row(cells, &e.metadata)
        })
        .collect();
    table(&columns, rows, rv)
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
