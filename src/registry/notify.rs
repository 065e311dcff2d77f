//! Push notifications (spec images.md §2.8).
//!
//! One webhook endpoint (`notifyURL`) gets `POST` with `Content-Type: application/json` and the
//! body `{"image":"<repo>:<tag>","repo":..,"tag":..,"digest":..}` (`image` is the field mkube
//! reads; the others are the optional extras the spec allows). Delivery runs on its own thread
//! with a bounded queue (drop-oldest, counted, with a warning), one request at a time, in
//! order, each retried with exponential back-off (1 s doubling to 30 s) until a 2xx answer.
//!
//! "One event per tag push": pushes by digest (the children of a multi-arch index, or a client
//! pushing by digest) are suppressed and counted; a push identical (repository, tag, digest) to
//! one still waiting or being delivered is coalesced into it, so the receiver never sees the
//! same pending change twice. A push after the previous one was delivered is a new event.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::names::Digest;

/// Called after a manifest PUT is committed and for every watcher change: (repository,
/// reference, digest). The registry's one hook feeds the webhook, the SSE feed and a test hook.
pub type PushHook = Arc<dyn Fn(&str, &str, &Digest) + Send + Sync>;

/// One committed manifest PUT by tag.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PushEvent {
    pub repository: String,
    pub tag: String,
    pub digest: String,
}

impl PushEvent {
    /// `<repo>:<reference>` as the spec's `image` field.
    pub fn image(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// True when the reference is a digest (`sha256:…`) rather than a tag: tags cannot contain
    /// a colon.
    pub fn is_digest_reference(&self) -> bool {
        self.tag.contains(':')
    }

    /// The webhook body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "image": self.image(),
            "repo": self.repository,
            "tag": self.tag,
            "digest": self.digest,
        })
    }
}

/// Counters since start. `queued` is the current backlog (waiting plus in flight).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotifyStats {
    pub queued: usize,
    /// Events accepted into the queue.
    pub accepted: u64,
    /// Events the endpoint answered with 2xx.
    pub delivered: u64,
    /// Failed attempts (status not 2xx, transport error, timeout); each is retried.
    pub failed_attempts: u64,
    /// Events dropped because the queue was full (the oldest waiting one goes).
    pub dropped: u64,
    /// Pushes folded into an identical pending event.
    pub coalesced: u64,
    /// Digest-reference pushes not sent.
    pub suppressed: u64,
}

/// Tunables; the defaults are the spec's.
#[derive(Clone, Debug)]
pub struct NotifyOptions {
    /// Waiting events per endpoint (the one in flight not counted).
    pub capacity: usize,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Per request.
    pub timeout: Duration,
    /// Send digest-reference pushes too (as `<repo>:sha256:…`).
    pub send_digest_refs: bool,
    /// CA certificates (PEM) for an `https://` notify URL.
    pub ca_pem: Option<Vec<u8>>,
}

impl Default for NotifyOptions {
    fn default() -> Self {
        NotifyOptions {
            capacity: 256,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            send_digest_refs: false,
            ca_pem: None,
        }
    }
}

/// Handle to the delivery queue; cheap to clone. When the last clone is dropped the delivery
/// thread stops (events still pending are abandoned).
#[derive(Clone)]
pub struct Notifier {
    handle: Option<Arc<Handle>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.handle {
            Some(h) => f.debug_struct("Notifier").field("url", &h.0.url).finish(),
            None => f.write_str("Notifier(disabled)"),
        }
    }
}

/// Owned by every clone of a [`Notifier`]; closes the queue when the last one goes.
struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.wake.notify_one();
    }
}

struct Shared {
    url: String,
    options: NotifyOptions,
    state: Mutex<State>,
    wake: tokio::sync::Notify,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<PushEvent>,
    in_flight: Option<PushEvent>,
    stats: NotifyStats,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Notifier {
    /// Delivers to `url` with the default options.
    pub fn new(url: String) -> Notifier {
        Notifier::with_options(url, NotifyOptions::default())
    }

    /// Delivers to `url`. A URL or TLS setup that cannot work is logged and the notifier
    /// behaves as [`Notifier::disabled`] (never fatal to the registry).
    pub fn with_options(url: String, options: NotifyOptions) -> Notifier {
        let client = match build_client(&options) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(url = %url, error = %e, "push notifications disabled");
                return Notifier::disabled();
            }
        };
        if let Err(e) = reqwest::Url::parse(&url) {
            tracing::error!(url = %url, error = %e, "push notifications disabled: bad notifyURL");
            return Notifier::disabled();
        }
        let shared = Arc::new(Shared {
            url,
            options,
            state: Mutex::new(State::default()),
            wake: tokio::sync::Notify::new(),
        });
        let worker = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("registry-notify".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(deliver_loop(worker, client)),
                    Err(e) => tracing::error!(error = %e, "push notifications: no runtime"),
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "push notifications disabled: cannot start thread");
            return Notifier::disabled();
        }
        Notifier {
            handle: Some(Arc::new(Handle(shared))),
        }
    }

    /// A notifier that ignores every event (no `notifyURL`).
    pub fn disabled() -> Notifier {
        Notifier { handle: None }
    }

    pub fn is_enabled(&self) -> bool {
        self.handle.is_some()
    }

    /// Queues a notification for a committed tag push. Never blocks on the network; when the
    /// queue is full the oldest waiting event is dropped with a warning.
    pub fn tag_pushed(&self, event: PushEvent) {
        let Some(handle) = &self.handle else { return };
        let shared = &handle.0;
        {
            let mut state = shared.lock();
            if event.is_digest_reference() && !shared.options.send_digest_refs {
                state.stats.suppressed += 1;
                return;
            }
            if state.in_flight.as_ref() == Some(&event) || state.waiting.contains(&event) {
                state.stats.coalesced += 1;
                return;
            }
            while state.waiting.len() >= shared.options.capacity.max(1) {
                if let Some(old) = state.waiting.pop_front() {
                    state.stats.dropped += 1;
                    tracing::warn!(
                        image = %old.image(),
                        digest = %old.digest,
                        capacity = shared.options.capacity,
                        "push notification queue full; dropped the oldest event"
                    );
                }
            }
            state.waiting.push_back(event);
            state.stats.accepted += 1;
        }
        shared.wake.notify_one();
    }

    pub fn stats(&self) -> NotifyStats {
        match &self.handle {
            None => NotifyStats::default(),
            Some(h) => {
                let state = h.0.lock();
                let mut stats = state.stats.clone();
                stats.queued = state.waiting.len() + usize::from(state.in_flight.is_some());
                stats
            }
        }
    }
}

fn build_client(options: &NotifyOptions) -> Result<reqwest::Client, String> {
    let cas: Vec<&[u8]> = options.ca_pem.as_deref().into_iter().collect();
    let tls = crate::tls::client_config(false, &cas)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(crate::resolve::Resolver::for_http())
        .timeout(options.timeout)
        .connect_timeout(options.timeout)
        .pool_max_idle_per_host(1)
        .build()
        .map_err(|e| format!("http client: {e}"))
}

async fn deliver_loop(shared: Arc<Shared>, client: reqwest::Client) {
    loop {
        // Next event, or stop once closed.
        let event = loop {
            {
                let mut state = shared.lock();
                if state.closed {
                    return;
                }
                if let Some(event) = state.waiting.pop_front() {
                    state.in_flight = Some(event.clone());
                    break event;
                }
            }
            shared.wake.notified().await;
        };
        let body = event.body();
        let mut backoff = shared.options.initial_backoff;
        loop {
            match post(&client, &shared.url, &body).await {
                Ok(()) => {
                    let mut state = shared.lock();
                    state.in_flight = None;
                    state.stats.delivered += 1;
                    tracing::debug!(image = %event.image(), "push notification delivered");
                    break;
                }
                Err(e) => {
                    {
                        let mut state = shared.lock();
                        state.stats.failed_attempts += 1;
                        if state.closed {
                            return;
                        }
                    }
                    tracing::warn!(
                        url = %shared.url,
                        image = %event.image(),
                        error = %e,
                        retry_in = ?backoff,
                        "push notification failed; will retry"
                    );
                    // Wake early only to notice shutdown.
                    let _ = tokio::time::timeout(backoff, async {
                        loop {
                            shared.wake.notified().await;
                            if shared.lock().closed {
                                break;
                            }
                        }
                    })
                    .await;
                    if shared.lock().closed {
                        return;
                    }
                    backoff = (backoff * 2).min(shared.options.max_backoff);
                }
            }
        }
    }
}

async fn post(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> Result<(), String> {
    let response = client
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("{e}"))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}
