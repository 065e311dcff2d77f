//! Watches (API-3): one JSON object per line, `{"type": ADDED|MODIFIED|DELETED, "object": …}`.
//! Without `resourceVersion` (or with `0`) every current object comes first as `ADDED`; then
//! the log is followed and every event about a watched object becomes a line whose object's
//! `resourceVersion` is that event's sequence. `?resourceVersion=N` resumes after sequence N;
//! an N whose successors the stream no longer holds is `410 Expired`, as Kubernetes answers.
//! This file is the machinery; each resource says what its watch makes of the log by
//! implementing [`Watched`] (pods also follow the device observations, `pods/watch.rs`).
//!
//! `?allowWatchBookmarks=true` adds `BOOKMARK` events (an object with only
//! `metadata.resourceVersion`, where a resumed watch may start) every
//! [`BOOKMARK_EVERY`] and right before a `timeoutSeconds` watch ends, as informers expect.

use super::params::ListParams;
use super::status::ApiError;
use super::version::ResourceVersion;
use crate::actors::wiring::Cluster;
use crate::events::Record;
use actix_web::{HttpResponse, web};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub type Reply = Result<HttpResponse, ApiError>;
type Line = Result<web::Bytes, actix_web::Error>;

/// How often an idle watch checks that its client is still there.
const IDLE_CHECK: Duration = Duration::from_secs(2);
/// Longest `timeoutSeconds` honoured (a year).
const MAX_WATCH_SECONDS: u64 = 365 * 24 * 3600;
/// How often a watch that allows bookmarks gets one while idle.
pub const BOOKMARK_EVERY: Duration = Duration::from_secs(15);

pub fn line(kind: &str, object: &Value) -> web::Bytes {
    let mut bytes =
        serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    bytes.push(b'\n');
    web::Bytes::from(bytes)
}

/// A watch about to start: the cluster it follows, whether the client wants tables, the first
/// sequence to follow, and whether the current objects come first.
pub struct Begin {
    pub cluster: Cluster,
    pub as_table: bool,
    pub from: u64,
    pub send_current: bool,
}

/// [`start`] for a request (503 before replay, 410 for a version the stream no longer holds).
pub async fn begin(
    state: &crate::api::ApiState,
    req: &actix_web::HttpRequest,
    params: &ListParams,
) -> Result<Begin, ApiError> {
    let cluster = crate::api::cluster(state)?.clone();
    let (from, send_current) = start(&cluster, params).await?;
    Ok(Begin {
        cluster,
        as_table: super::table::wants_table(req),
        from,
        send_current,
    })
}

/// Where following starts: after the requested version (checked against what the stream still
/// holds), or after the current end when the client gets the current objects first.
pub async fn start(cluster: &Cluster, params: &ListParams) -> Result<(u64, bool), ApiError> {
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

/// What one resource's watch makes of what happens: implemented by pods, ConfigMaps and
/// events; [`respond`] drives it.
pub trait Watched: 'static {
    /// The `kind` of the watched objects (the object of a `BOOKMARK`).
    fn kind(&self) -> &'static str;
    /// The lines for the next record of the log (every record, whatever its area).
    fn record(&mut self, record: &Record) -> Vec<web::Bytes>;
    /// The lines after the device observations changed (only watches that follow them).
    fn observed(&mut self) -> Vec<web::Bytes> {
        Vec::new()
    }
    /// Where a client holding every line sent so far resumes.
    fn version(&self) -> ResourceVersion;
}

/// How a watch follows: its deadline, bookmarks, and for pods the observations.
pub struct Follow {
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
pub fn bookmark(kind: &str, version: ResourceVersion) -> web::Bytes {
    line(
        "BOOKMARK",
        &json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": version.to_string()}}),
    )
}

/// A watch that follows only the log: `on_record` makes the lines of a record; the version is
/// the last sequence seen.
pub struct LogWatch<F> {
    kind: &'static str,
    position: u64,
    on_record: F,
}

impl<F: FnMut(&Record) -> Vec<web::Bytes> + 'static> LogWatch<F> {
    /// Following from sequence `from`.
    pub fn new(kind: &'static str, from: u64, on_record: F) -> LogWatch<F> {
        LogWatch {
            kind,
            position: from.saturating_sub(1),
            on_record,
        }
    }
}

impl<F: FnMut(&Record) -> Vec<web::Bytes> + 'static> Watched for LogWatch<F> {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn record(&mut self, record: &Record) -> Vec<web::Bytes> {
        self.position = record.seq;
        (self.on_record)(record)
    }

    fn version(&self) -> ResourceVersion {
        ResourceVersion::log(self.position)
    }
}

/// A bookmark, after whatever the observations still owe the client.
fn bookmark_of(watched: &mut impl Watched) -> Vec<web::Bytes> {
    let mut lines = watched.observed();
    lines.push(bookmark(watched.kind(), watched.version()));
    lines
}

/// What woke the watch loop.
enum Woken {
    Record(Record),
    Observed,
    Closed,
    Idle,
}

/// Streams `initial`, then what `watched` makes of every record from `from` on, of every
/// observation change (when `follow.observed` is set) and of bookmark times.
pub fn respond(
    cluster: &Cluster,
    from: u64,
    initial: Vec<web::Bytes>,
    follow: Follow,
    mut watched: impl Watched,
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
                        for bytes in bookmark_of(&mut watched) {
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
                Woken::Record(record) => watched.record(&record),
                Woken::Observed => watched.observed(),
                // The observations went away (shutdown): follow the log alone.
                Woken::Closed if observed.is_some() => {
                    observed = None;
                    continue;
                }
                Woken::Closed => return,
                Woken::Idle if tx.is_closed() => return,
                Woken::Idle if follow.bookmarks && last_bookmark.elapsed() >= BOOKMARK_EVERY => {
                    last_bookmark = Instant::now();
                    bookmark_of(&mut watched)
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
