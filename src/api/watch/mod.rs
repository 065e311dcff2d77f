//! Watches (API-3): one JSON object per line, `{"type": ADDED|MODIFIED|DELETED, "object": …}`.
//! Without `resourceVersion` (or with `0`) every current object comes first as `ADDED`; then
//! the log is followed and every event about a watched object becomes a line whose object's
//! `resourceVersion` is that event's sequence. `?resourceVersion=N` resumes after sequence N;
//! an N whose successors the stream no longer holds is `410 Expired`, as Kubernetes answers.
//! Pod watches also follow the device observations (`pods.rs`).
//!
//! `?allowWatchBookmarks=true` adds `BOOKMARK` events (an object with only
//! `metadata.resourceVersion`, where a resumed watch may start) every
//! [`BOOKMARK_EVERY`] and right before a `timeoutSeconds` watch ends, as informers expect.

mod pods;
pub use pods::pods;

use super::configmaps::render_config_map;
use super::objects::typed;
use super::params::ListParams;
use super::pod_view::cluster;
use super::status::ApiError;
use super::version::ResourceVersion;
use super::{ApiState, table};
use crate::actors::configmaps::state::{ConfigMapsState, config_map_key};
use crate::actors::journal::GetState;
use crate::actors::wiring::Cluster;
use crate::events::catalogue::ConfigMapsEvent;
use crate::events::{Event, Record};
use actix_web::{HttpRequest, HttpResponse, web};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

type Reply = Result<HttpResponse, ApiError>;
type Line = Result<web::Bytes, actix_web::Error>;

/// How often an idle watch checks that its client is still there.
const IDLE_CHECK: Duration = Duration::from_secs(2);
/// Longest `timeoutSeconds` honoured (a year).
const MAX_WATCH_SECONDS: u64 = 365 * 24 * 3600;
/// How often a watch that allows bookmarks gets one while idle.
pub const BOOKMARK_EVERY: Duration = Duration::from_secs(15);

pub(super) fn line(kind: &str, object: &Value) -> web::Bytes {
    let mut bytes =
        serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    bytes.push(b'\n');
    web::Bytes::from(bytes)
}

/// Where following starts: after the requested version (checked against what the stream still
/// holds), or after the current end when the client gets the current objects first.
pub(super) async fn start(cluster: &Cluster, params: &ListParams) -> Result<(u64, bool), ApiError> {
    let unavailable = |e: crate::events::LogError| ApiError::unavailable(e.to_string());
    match params.resource_version.map(|v| v.seq).filter(|v| *v > 0) {
        Some(rv) => {
            let first = cluster.log.first_sequence().await.map_err(unavailable)?;
            if rv.saturating_add(1) < first {
                return Err(ApiError::expired(format!(
                    "too old resource version: {rv} ({})",
                    first - 1
                )));
            }
            Ok((rv.saturating_add(1), false))
        }
        None => Ok((
            cluster
                .log
                .last_sequence()
                .await
                .map_err(unavailable)?
                .saturating_add(1),
            true,
        )),
    }
}

/// What a watch reacts to.
pub(super) enum Input<'r> {
    /// The next record of the log.
    Record(&'r Record),
    /// The device observations changed (`actors::observations`).
    Observed,
    /// Time for a `BOOKMARK`.
    Bookmark,
}

/// How a watch follows: its deadline, bookmarks, and for pods the observations.
pub(super) struct Follow {
    pub timeout: Option<u64>,
    pub bookmarks: bool,
    pub observed: Option<tokio::sync::watch::Receiver<u64>>,
}

impl Follow {
    pub fn of(params: &ListParams) -> Follow {
        Follow {
            timeout: params.timeout_seconds,
            bookmarks: params.bookmarks,
            observed: None,
        }
    }
}

/// A `BOOKMARK` line for objects of `kind` at `version`.
pub(super) fn bookmark(kind: &str, version: ResourceVersion) -> web::Bytes {
    line(
        "BOOKMARK",
        &json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": version.to_string()}}),
    )
}

/// The input handler of a watch that follows only the log: `on_record` makes the lines of a
/// record; bookmarks carry the last sequence seen.
pub(super) fn log_only(
    kind: &'static str,
    from: u64,
    mut on_record: impl FnMut(&Record) -> Vec<web::Bytes> + 'static,
) -> impl FnMut(Input) -> Vec<web::Bytes> + 'static {
    let mut position = from.saturating_sub(1);
    move |input| match input {
        Input::Record(record) => {
            position = record.seq;
            on_record(record)
        }
        Input::Observed => Vec::new(),
        Input::Bookmark => vec![bookmark(kind, ResourceVersion::log(position))],
    }
}

/// What woke the watch loop.
enum Woken {
    Record(Record),
    Observed,
    Closed,
    Idle,
}

/// Streams `initial`, then what `on_input` makes of every record from `from` on, of every
/// observation change (when `follow.observed` is set) and of bookmark times.
pub(super) fn respond(
    cluster: &Cluster,
    from: u64,
    initial: Vec<web::Bytes>,
    follow: Follow,
    mut on_input: impl FnMut(Input) -> Vec<web::Bytes> + 'static,
) -> HttpResponse {
    let (mut tx, rx) = mpsc::channel::<Line>(64);
    let log = cluster.log.clone();
    actix_web::rt::spawn(async move {
        for bytes in initial {
            if tx.send(Ok(bytes)).await.is_err() {
                return;
            }
        }
        // Clamped: a far-future deadline must not overflow the timer.
        let deadline = follow
            .timeout
            .map(|s| Instant::now() + Duration::from_secs(s.min(MAX_WATCH_SECONDS)));
        let mut observed = follow.observed;
        let mut last_bookmark = Instant::now();
        let mut records = Box::pin(log.follow(from));
        loop {
            let now = Instant::now();
            let wait = match deadline {
                Some(d) if d <= now => {
                    if follow.bookmarks {
                        for bytes in on_input(Input::Bookmark) {
                            let _ = tx.send(Ok(bytes)).await;
                        }
                    }
                    return;
                }
                Some(d) => (d - now).min(IDLE_CHECK),
                None => IDLE_CHECK,
            };
            let woken = tokio::select! {
                record = records.next() => record.map_or(Woken::Closed, Woken::Record),
                changed = async {
                    match observed.as_mut() {
                        Some(rx) => rx.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                } => if changed { Woken::Observed } else { Woken::Closed },
                _ = tokio::time::sleep(wait) => Woken::Idle,
            };
            let lines = match woken {
                Woken::Record(record) => on_input(Input::Record(&record)),
                Woken::Observed => on_input(Input::Observed),
                // The observations went away (shutdown): follow the log alone.
                Woken::Closed if observed.is_some() => {
                    observed = None;
                    continue;
                }
                Woken::Closed => return,
                Woken::Idle if tx.is_closed() => return,
                Woken::Idle if follow.bookmarks && last_bookmark.elapsed() >= BOOKMARK_EVERY => {
                    last_bookmark = Instant::now();
                    on_input(Input::Bookmark)
                }
                Woken::Idle => continue,
            };
            for bytes in lines {
                if tx.send(Ok(bytes)).await.is_err() {
                    return;
                }
            }
        }
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Transfer-Encoding", "chunked"))
        .streaming(rx)
}

fn config_map_object(cm: &ConfigMap, as_table: bool, rv: u64) -> Value {
    if as_table {
        super::configmaps::table(std::slice::from_ref(cm), rv)
    } else {
        typed(cm, "ConfigMap", "v1")
    }
}

pub async fn config_maps(
    state: &ApiState,
    req: &HttpRequest,
    ns: Option<String>,
    params: ListParams,
) -> Reply {
    let cluster = cluster(state)?.clone();
    let as_table = table::wants_table(req);
    let (from, send_current) = start(&cluster, &params).await?;
    let mut local = cluster
        .configmaps
        .send(GetState::<ConfigMapsState>::new())
        .await
        .map_err(|e| ApiError::internal(format!("configmaps actor unavailable: {e}")))?;
    let mut known: BTreeMap<String, u64> = BTreeMap::new();
    let mut initial = Vec::new();
    for (key, cm) in &local.config_maps {
        let cm_ns = crate::pod::namespace_of(&cm.metadata);
        let name = cm.metadata.name.as_deref().unwrap_or_default();
        let rv = super::pod_view::resource_version(&cluster, "configmaps", cm_ns, name).await;
        known.insert(key.clone(), rv);
        let cm = render_config_map(cm, rv);
        if send_current
            && ns.as_deref().is_none_or(|ns| ns == cm_ns)
            && params.labels_match(cm.metadata.labels.as_ref())
        {
            initial.push(line("ADDED", &config_map_object(&cm, as_table, rv)));
        }
    }
    let follow = Follow::of(&params);
    let on_record = move |record: &Record| -> Vec<web::Bytes> {
        let Ok(envelope) = record.decode() else {
            return Vec::new();
        };
        let Event::ConfigMaps(event) = envelope.event else {
            return Vec::new();
        };
        let (cm_ns, name) = event.config_map_key();
        let key = config_map_key(cm_ns, name);
        let before = local.config_maps.get(&key).cloned();
        if record.seq > known.get(&key).copied().unwrap_or(0) {
            local.apply(&event);
            known.insert(key.clone(), record.seq);
        }
        if ns.as_deref().is_some_and(|ns| ns != cm_ns) {
            return Vec::new();
        }
        let (kind, cm) = match &event {
            ConfigMapsEvent::ConfigMapDeleted { .. } => (
                "DELETED",
                before.unwrap_or_else(|| ConfigMap {
                    metadata: ObjectMeta {
                        namespace: Some(cm_ns.into()),
                        name: Some(name.into()),
                        ..Default::default()
                    },
                    ..Default::default()
                }),
            ),
            ConfigMapsEvent::ConfigMapPut { config_map, .. } => (
                if before.is_some() {
                    "MODIFIED"
                } else {
                    "ADDED"
                },
                local
                    .config_maps
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| (**config_map).clone()),
            ),
        };
        if !params.labels_match(cm.metadata.labels.as_ref()) {
            return Vec::new();
        }
        let cm = render_config_map(&cm, record.seq);
        vec![line(kind, &config_map_object(&cm, as_table, record.seq))]
    };
    let on_input = log_only("ConfigMap", from, on_record);
    Ok(respond(&cluster, from, initial, follow, on_input))
}
