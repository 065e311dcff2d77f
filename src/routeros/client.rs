//! The HTTP side: one pooled keep-alive client, Basic auth, timeouts, a
//! semaphore of at most N in-flight requests, GET/POST only (§1.3).

use super::error::{RosError, TransportKind, classify, transport_kind};
use super::names::{PropertyNames, RosVersion, check_version};
use super::pacing::Pacing;
use super::resources::{Container, FromRow, SystemResource};
use super::stats::{CallStats, StatsSnapshot};
use super::values::{Props, Row, rows_of, singleton_of};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Options of a [`RosClient`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Base URL including `/rest`, e.g. `http://192.168.200.1/rest`.
    pub base_url: String,
    pub user: String,
    pub password: String,
    /// Accept any server certificate (still checks handshake signatures).
    pub insecure_verify: bool,
    /// PEM CA bundle for verified TLS.
    pub ca_cert_pem: Option<String>,
    /// TCP/TLS connect timeout (10 s).
    pub connect_timeout: Duration,
    /// Timeout of ordinary requests (30 s).
    pub request_timeout: Duration,
    /// Timeout of `/container/add`, which can block during import (120 s).
    pub add_timeout: Duration,
    /// Concurrent requests and idle pooled connections (4).
    pub max_connections: usize,
    /// Time scale of retry schedules and polls.
    pub pacing: Pacing,
    /// How long [`RosClient::containers_cached`] reuses a `GET /container` (5 s).
    pub container_cache_ttl: Duration,
    /// Skip the 7.21 version gate (tests of older profiles, diagnostics only).
    pub allow_unsupported_version: bool,
    /// Where every call is counted by path and outcome (`/metrics`); `None` for the
    /// installer, the updater and tests that serve no metrics.
    pub metrics: Option<crate::metrics::Metrics>,
}

impl ClientOptions {
    /// Defaults of §1.9/§1.10 for `base_url`.
    pub fn new(
        base_url: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        ClientOptions {
            base_url: base_url.into(),
            user: user.into(),
            password: password.into(),
            insecure_verify: false,
            ca_cert_pem: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            add_timeout: Duration::from_secs(120),
            max_connections: 4,
            pacing: Pacing::default(),
            container_cache_ttl: Duration::from_secs(5),
            allow_unsupported_version: false,
            metrics: None,
        }
    }
}

impl ClientOptions {
    /// Options from mkube's `routeros` configuration block. `caCert` is a
    /// PEM bundle or the path of one.
    pub fn from_config(cfg: &crate::config::RouterOsConfig) -> Result<Self, RosError> {
        let mut opts = ClientOptions::new(&cfg.rest_url, &cfg.user, &cfg.password);
        opts.insecure_verify = cfg.insecure_verify;
        opts.pacing = Pacing::scaled(cfg.pacing);
        let ca = cfg.ca_cert.trim();
        if ca.starts_with("-----BEGIN") {
            opts.ca_cert_pem = Some(ca.to_string());
        } else if !ca.is_empty() {
            let pem = std::fs::read_to_string(ca)
                .map_err(|e| RosError::Config(format!("caCert {ca}: {e}")))?;
            opts.ca_cert_pem = Some(pem);
        }
        Ok(opts)
    }
}

#[derive(Debug)]
struct Http {
    client: reqwest::Client,
    base: String,
    opts: ClientOptions,
    permits: Semaphore,
    stats: CallStats,
}

type ContainerCache = Mutex<Option<(Instant, Vec<Container>)>>;

/// The typed RouterOS REST client. Cheap to clone; clones share the pool,
/// the semaphore, the counters and the names.
#[derive(Debug, Clone)]
pub struct RosClient {
    http: Arc<Http>,
    names: Arc<PropertyNames>,
    resource: Arc<SystemResource>,
    cache: Arc<ContainerCache>,
    shared: Arc<Shared>,
}

/// Knowledge the client's clones share: the directories known to exist (mkube never removes
/// volume directories, so they stay known).
#[derive(Debug, Default)]
pub(super) struct Shared {
    pub dirs: Mutex<std::collections::HashSet<String>>,
    /// Creates of ancestor directories run one at a time, so concurrent creates ask for the
    /// shared volumes root once, not once each.
    pub dir_create: tokio::sync::Mutex<()>,
}

impl RosClient {
    /// Builds the client, reads `/system/resource` once, refuses versions
    /// below 7.21 and picks property names for the version.
    pub async fn connect(opts: ClientOptions) -> Result<RosClient, RosError> {
        let http = Arc::new(Http::new(opts)?);
        let value = http
            .call("GET", "/system/resource", &[], None, None)
            .await?;
        let row = singleton_of(value).ok_or_else(|| RosError::Decode {
            path: "/system/resource".into(),
            message: "empty reply".into(),
        })?;
        let resource = SystemResource::from_row(&row);
        let version = if http.opts.allow_unsupported_version {
            RosVersion::parse(&resource.version).ok_or_else(|| RosError::Decode {
                path: "/system/resource".into(),
                message: format!("unparsable version {:?}", resource.version),
            })?
        } else {
            check_version(&resource.version)?
        };
        tracing::debug!(version = %resource.version, "routeros client connected");
        Ok(RosClient {
            http,
            names: Arc::new(PropertyNames::for_version(version)),
            resource: Arc::new(resource),
            cache: Arc::new(Mutex::new(None)),
            shared: Arc::default(),
        })
    }

    /// Property names for the device version.
    pub(super) fn shared(&self) -> &Shared {
        &self.shared
    }

    pub fn names(&self) -> &PropertyNames {
        &self.names
    }

    /// The `/system/resource` read at connect.
    pub fn system_resource(&self) -> &SystemResource {
        &self.resource
    }

    pub fn options(&self) -> &ClientOptions {
        &self.http.opts
    }

    pub fn pacing(&self) -> Pacing {
        self.http.opts.pacing
    }

    /// Total calls made so far by this client and its clones.
    pub fn call_count(&self) -> u64 {
        self.http.stats.calls()
    }

    /// Per-endpoint counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.http.stats.snapshot()
    }

    /// `GET <path>` with query filters; the raw reply.
    pub async fn get_raw(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, RosError> {
        self.http.call("GET", path, query, None, None).await
    }

    /// `GET <path>` as typed rows.
    pub async fn get_rows<T: FromRow>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, RosError> {
        let value = self.get_raw(path, query).await?;
        Ok(rows_of(value).iter().map(T::from_row).collect())
    }

    /// `GET <singleton menu>` (object or one-element array).
    pub async fn get_singleton<T: FromRow>(&self, path: &str) -> Result<T, RosError> {
        let value = self.get_raw(path, &[]).await?;
        let row = singleton_of(value).unwrap_or_default();
        Ok(T::from_row(&row))
    }

    /// `POST <menu>/<command>` with a JSON body of strings.
    pub async fn post(&self, path: &str, body: &Props) -> Result<Value, RosError> {
        self.invalidate(path);
        self.http
            .call("POST", path, &[], Some(&body.as_value()), None)
            .await
    }

    /// `POST` with a specific timeout (e.g. `/container/add`).
    pub async fn post_with_timeout(
        &self,
        path: &str,
        body: &Props,
        timeout: Duration,
    ) -> Result<Value, RosError> {
        self.invalidate(path);
        self.http
            .call("POST", path, &[], Some(&body.as_value()), Some(timeout))
            .await
    }

    /// `POST <menu>/add`; the new row's `.id` (may be empty if the device
    /// did not say).
    pub async fn add(&self, menu: &str, body: &Props) -> Result<String, RosError> {
        let value = self.post(&format!("{menu}/add"), body).await?;
        Ok(super::values::ret_id(&value).unwrap_or_default())
    }

    /// `POST <menu>/remove {".id": id}`.
    pub async fn remove(&self, menu: &str, id: &str) -> Result<(), RosError> {
        self.post(&format!("{menu}/remove"), &Props::new().set(".id", id))
            .await
            .map(|_| ())
    }

    /// `GET /container`, reused for the configured TTL (cleared by any
    /// container command).
    pub async fn containers_cached(&self) -> Result<Vec<Container>, RosError> {
        let ttl = self.http.opts.container_cache_ttl;
        if let Some((at, rows)) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && at.elapsed() < ttl
        {
            return Ok(rows.clone());
        }
        let rows: Vec<Container> = self.get_rows("/container", &[]).await?;
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), rows.clone()));
        Ok(rows)
    }

    fn invalidate(&self, path: &str) {
        if path.starts_with("/container/") {
            *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }
}

impl Http {
    fn new(opts: ClientOptions) -> Result<Http, RosError> {
        let tls = super::tls::client_config(opts.insecure_verify, opts.ca_cert_pem.as_deref())?;
        let max = opts.max_connections.max(1);
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .dns_resolver(crate::resolve::Resolver::for_http())
            .connect_timeout(opts.connect_timeout)
            .pool_max_idle_per_host(max)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| RosError::Config(format!("http client: {e}")))?;
        let base = opts.base_url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(RosError::Config(format!(
                "bad REST URL {:?}",
                opts.base_url
            )));
        }
        Ok(Http {
            client,
            base,
            permits: Semaphore::new(max),
            stats: CallStats::default(),
            opts,
        })
    }

    async fn call(
        &self,
        method: &'static str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        timeout: Option<Duration>,
    ) -> Result<Value, RosError> {
        let started = Instant::now();
        let permit = self.permits.acquire().await;
        let queued = started.elapsed();
        let sent = Instant::now();
        let result = self.send(method, path, query, body, timeout).await;
        drop(permit);
        if let Some(metrics) = &self.opts.metrics {
            // Latency of the request itself, not of the wait for a permit.
            let outcome = call_outcome(&result);
            metrics.observe_routeros_call(method, path_label(path), outcome, sent.elapsed());
        }
        let endpoint = format!("{method} {path}");
        self.stats
            .record(endpoint, result.is_ok(), started.elapsed(), queued);
        match &result {
            Ok(_) => tracing::trace!(method, path, ?query, "routeros ok"),
            Err(e) => tracing::debug!(method, path, ?query, error = %e, "routeros error"),
        }
        result
    }

    async fn send(
        &self,
        method: &'static str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        timeout: Option<Duration>,
    ) -> Result<Value, RosError> {
        let url = format!("{}{}", self.base, path);
        let mut req = match method {
            "POST" => self.client.post(&url),
            _ => self.client.get(&url),
        };
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        req = req
            .basic_auth(&self.opts.user, Some(&self.opts.password))
            .timeout(timeout.unwrap_or(self.opts.request_timeout));
        let transport = |e: reqwest::Error| RosError::Transport {
            method,
            path: path.to_string(),
            kind: transport_kind(&e),
            message: e.to_string(),
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(transport)?;
        if status >= 400 {
            let row = serde_json::from_slice::<Value>(&bytes)
                .map(Row::from_value)
                .unwrap_or_default();
            let detail = row.str("detail");
            let message = row
                .opt("message")
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            let kind = classify(status, &detail);
            return Err(RosError::Api {
                method,
                path: path.to_string(),
                status,
                message,
                detail,
                kind,
            });
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Array(Vec::new()));
        }
        serde_json::from_slice(&bytes).map_err(|e| RosError::Decode {
            path: path.to_string(),
            message: e.to_string(),
        })
    }
}

/// The `outcome` label of a call: `ok`, `http_4xx`, `http_5xx`, `timeout` or `error`.
fn call_outcome(result: &Result<Value, RosError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(RosError::Api { status, .. }) if *status >= 500 => "http_5xx",
        Err(RosError::Api { .. }) => "http_4xx",
        Err(RosError::Transport {
            kind: TransportKind::Timeout,
            ..
        }) => "timeout",
        Err(_) => "error",
    }
}

/// The `path` label of a call: the menu and command, with item ids (`*1A`) replaced by
/// `{id}` and any segment that is not a plain menu word (names, numbers) by `{name}`, so
/// the label takes a bounded set of values however many objects the device holds.
pub(crate) fn path_label(path: &str) -> String {
    let mut label = String::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        label.push('/');
        if segment.starts_with('*') {
            label.push_str("{id}");
        } else if is_menu_word(segment) {
            label.push_str(segment);
        } else {
            label.push_str("{name}");
        }
    }
    if label.is_empty() {
        label.push('/');
    }
    label
}

/// RouterOS menus and commands are short lowercase words with dashes (`bridge`, `add`,
/// `user/active`), never digits, dots or underscores as names often have.
fn is_menu_word(segment: &str) -> bool {
    segment.len() <= 24 && segment.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

/// Maps "target already gone" to success.
pub(crate) fn ok_if_gone(result: Result<(), RosError>) -> Result<bool, RosError> {
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.is_gone() => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_config() {
        let mut cfg = crate::config::RouterOsConfig {
            rest_url: "http://127.0.0.1:1/rest".into(),
            ..Default::default()
        };
        let o = ClientOptions::from_config(&cfg).unwrap();
        assert_eq!(o.base_url, "http://127.0.0.1:1/rest");
        assert!(o.insecure_verify);
        assert_eq!(o.max_connections, 4);
        assert_eq!(o.connect_timeout, Duration::from_secs(10));
        assert_eq!(o.request_timeout, Duration::from_secs(30));
        assert!(o.add_timeout >= Duration::from_secs(120));
        assert!(o.ca_cert_pem.is_none());
        cfg.ca_cert = "/nonexistent/ca.pem".into();
        assert!(matches!(
            ClientOptions::from_config(&cfg),
            Err(RosError::Config(_))
        ));
        cfg.ca_cert = "-----BEGIN CERTIFICATE-----\n".into();
        assert!(
            ClientOptions::from_config(&cfg)
                .unwrap()
                .ca_cert_pem
                .is_some()
        );
    }

    #[test]
    fn path_labels_hold_no_ids_or_names() {
        assert_eq!(path_label("/container"), "/container");
        assert_eq!(path_label("/container/add"), "/container/add");
        assert_eq!(path_label("/container/*1A"), "/container/{id}");
        assert_eq!(path_label("/interface/veth/set"), "/interface/veth/set");
        assert_eq!(
            path_label("/interface/veth/veth_web_0"),
            "/interface/veth/{name}"
        );
        assert_eq!(path_label("/file/raid1.img"), "/file/{name}");
        assert_eq!(path_label(""), "/");
    }

    #[test]
    fn outcomes_follow_status_and_transport() {
        let api = |status| {
            Err(RosError::Api {
                method: "GET",
                path: "/x".into(),
                status,
                message: String::new(),
                detail: String::new(),
                kind: super::super::error::ErrorKind::Other,
            })
        };
        let transport = |kind| {
            Err(RosError::Transport {
                method: "GET",
                path: "/x".into(),
                kind,
                message: String::new(),
            })
        };
        assert_eq!(call_outcome(&Ok(Value::Null)), "ok");
        assert_eq!(call_outcome(&api(404)), "http_4xx");
        assert_eq!(call_outcome(&api(500)), "http_5xx");
        assert_eq!(call_outcome(&transport(TransportKind::Timeout)), "timeout");
        assert_eq!(call_outcome(&transport(TransportKind::Eof)), "error");
    }

    #[test]
    fn rejects_bad_urls() {
        let err = Http::new(ClientOptions::new("ftp://x/rest", "a", "")).unwrap_err();
        assert!(matches!(err, RosError::Config(_)));
    }
}
