//! The HTTP side (R1): one client per process, cheap to clone, 3 s per request, no retries.
//! Endpoints are base URLs without a trailing slash; every path is `<endpoint>/api/v1/...`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error::MicrodnsError;
use super::types::{Record, RecordData, Zone};
use crate::config::ApiKey;
use crate::metrics::Metrics;

/// The header microdns reads its API key from (`api.rest.api_key` on the server).
const API_KEY_HEADER: &str = "X-API-Key";

/// Overall limit for one request: connect, headers and body (R1). Each page has its own.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// `GET /api/v1/health` limit (controller.md L-5).
pub const HEALTH_TIMEOUT: Duration = Duration::from_millis(1500);
/// Zone lists ask for the server's cap at once (R16); R2's unpaged list saw only 100.
const ZONE_PAGE: usize = 1000;
/// Record pages as the February mkube asked for them (R3).
const RECORD_PAGE: usize = 100;
/// A server that never sends a short page must not keep us looping forever.
const MAX_PAGES: usize = 1000;

#[derive(Clone)]
pub struct MicrodnsClient {
    http: reqwest::Client,
    /// endpoint (no trailing slash) → its API key (issue 11 item 8).
    api_keys: Arc<HashMap<String, ApiKey>>,
    /// Counts writes and their failures (`/metrics`); `None` for CLI and test clients.
    metrics: Option<Metrics>,
}

impl MicrodnsClient {
    /// The process-wide client with the R1 timeout.
    pub fn new() -> Result<Self, MicrodnsError> {
        Self::with_timeout(REQUEST_TIMEOUT)
    }

    /// A client with another overall per-request limit (the DZO readiness wait uses 5 s).
    pub fn with_timeout(timeout: Duration) -> Result<Self, MicrodnsError> {
        // Built-in webpki roots, not the platform verifier: a scratch image has no CA files,
        // and the platform verifier refuses to build without them.
        let tls = crate::tls::public_roots_config(&[]).map_err(MicrodnsError::Config)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .dns_resolver(crate::resolve::Resolver::for_http())
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| MicrodnsError::Config(format!("http client: {e}")))?;
        Ok(Self {
            http,
            api_keys: Arc::default(),
            metrics: None,
        })
    }

    /// Sends each endpoint's key as `X-API-Key` on every call to it (zones, records, health).
    pub fn with_api_keys(mut self, keys: impl IntoIterator<Item = (String, ApiKey)>) -> Self {
        let keys = keys
            .into_iter()
            .map(|(endpoint, key)| (base(&endpoint).to_string(), key));
        self.api_keys = Arc::new(keys.collect());
        self
    }

    /// Count every write (zone and record creates, record deletes) into `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Every zone on the instance, paged with `limit=1000` until a short page.
    pub async fn list_zones(&self, endpoint: &str) -> Result<Vec<Zone>, MicrodnsError> {
        self.paged(endpoint, "/zones", ZONE_PAGE, |z: &Zone| z.id.clone())
            .await
    }

    /// Every record of a zone, `limit=100&offset=N` until a short page (R3).
    pub async fn list_records(
        &self,
        endpoint: &str,
        zone_id: &str,
    ) -> Result<Vec<Record>, MicrodnsError> {
        let path = format!("/zones/{zone_id}/records");
        self.paged(endpoint, &path, RECORD_PAGE, |r: &Record| r.id.clone())
            .await
    }

    /// The id of zone `name`, creating it when missing (R2 with §6's fix: every zone is seen,
    /// and a 409 from a racing create means "exists").
    pub async fn ensure_zone(&self, endpoint: &str, name: &str) -> Result<String, MicrodnsError> {
        // The server drops trailing dots on create (§1.7); match what it will store.
        let name = name.trim_end_matches('.');
        if let Some(z) = find_zone(self.list_zones(endpoint).await?, name) {
            return Ok(z.id);
        }
        match self.create_zone(endpoint, name).await {
            Ok(z) => Ok(z.id),
            Err(MicrodnsError::Status { code: 409, .. }) => {
                find_zone(self.list_zones(endpoint).await?, name)
                    .map(|z| z.id)
                    .ok_or_else(|| MicrodnsError::Decode {
                        endpoint: endpoint.to_string(),
                        message: format!("zone {name} exists (409) but is not in the zone list"),
                    })
            }
            Err(e) => Err(e),
        }
    }

    /// POST `/zones` with `{name}`; 201 (or 200) gives the zone.
    pub async fn create_zone(&self, endpoint: &str, name: &str) -> Result<Zone, MicrodnsError> {
        let result = self.post_zone(endpoint, name).await;
        // 409: the zone exists, which `ensure_zone` takes as done.
        let done = matches!(
            &result,
            Ok(_) | Err(MicrodnsError::Status { code: 409, .. })
        );
        self.count_write("create_zone", done);
        result
    }

    async fn post_zone(&self, endpoint: &str, name: &str) -> Result<Zone, MicrodnsError> {
        let body = json!({ "name": name });
        let (status, bytes) = self
            .send(endpoint, Method::POST, "/zones", &[], Some(&body), None)
            .await?;
        expect(
            endpoint,
            status,
            &bytes,
            &[StatusCode::CREATED, StatusCode::OK],
        )?;
        decode(endpoint, &bytes)
    }

    /// An A record; `created` is false when the server matched an identical record (200).
    pub async fn create_a_record(
        &self,
        endpoint: &str,
        zone_id: &str,
        name: &str,
        ip: &str,
        ttl: u32,
    ) -> Result<(Record, bool), MicrodnsError> {
        self.create_record(endpoint, zone_id, name, ttl, RecordData::a(ip))
            .await
    }

    /// Any record type: 201 new, 200 existing identical record (§1.8).
    pub async fn create_record(
        &self,
        endpoint: &str,
        zone_id: &str,
        name: &str,
        ttl: u32,
        data: RecordData,
    ) -> Result<(Record, bool), MicrodnsError> {
        let result = self.post_record(endpoint, zone_id, name, ttl, data).await;
        self.count_write("create_record", result.is_ok());
        result
    }

    async fn post_record(
        &self,
        endpoint: &str,
        zone_id: &str,
        name: &str,
        ttl: u32,
        data: RecordData,
    ) -> Result<(Record, bool), MicrodnsError> {
        let body = json!({ "name": name, "ttl": ttl, "data": data });
        let path = format!("/zones/{zone_id}/records");
        let (status, bytes) = self
            .send(endpoint, Method::POST, &path, &[], Some(&body), None)
            .await?;
        expect(
            endpoint,
            status,
            &bytes,
            &[StatusCode::CREATED, StatusCode::OK],
        )?;
        Ok((decode(endpoint, &bytes)?, status == StatusCode::CREATED))
    }

    /// DELETE a record (204). The server looks only at the record id (§2 notes).
    pub async fn delete_record(
        &self,
        endpoint: &str,
        zone_id: &str,
        record_id: &str,
    ) -> Result<(), MicrodnsError> {
        let path = format!("/zones/{zone_id}/records/{record_id}");
        let result = match self
            .send(endpoint, Method::DELETE, &path, &[], None, None)
            .await
        {
            Ok((status, bytes)) => expect(
                endpoint,
                status,
                &bytes,
                &[StatusCode::NO_CONTENT, StatusCode::OK],
            ),
            Err(e) => Err(e),
        };
        // 404: the record is gone already, which every caller takes as done.
        let done = matches!(
            &result,
            Ok(()) | Err(MicrodnsError::Status { code: 404, .. })
        );
        self.count_write("delete_record", done);
        result
    }

    /// Counts a write; `done` is false when it failed (not when it found its work done).
    fn count_write(&self, operation: &'static str, done: bool) {
        if let Some(m) = &self.metrics {
            m.count_dns_write(operation, done);
        }
    }

    /// `GET /api/v1/health` with its own 1.5 s limit; the JSON body on 200.
    pub async fn health(&self, endpoint: &str) -> Result<Value, MicrodnsError> {
        let (status, bytes) = self
            .send(
                endpoint,
                Method::GET,
                "/health",
                &[],
                None,
                Some(HEALTH_TIMEOUT),
            )
            .await?;
        expect(endpoint, status, &bytes, &[StatusCode::OK])?;
        decode(endpoint, &bytes)
    }

    /// Pages of `limit` items until a short page. A page that brings nothing new (a server
    /// ignoring `offset`) is an error rather than an endless loop.
    async fn paged<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        path: &str,
        limit: usize,
        id: impl Fn(&T) -> String,
    ) -> Result<Vec<T>, MicrodnsError> {
        let mut all = Vec::new();
        let mut seen = HashSet::new();
        let mut offset = 0;
        for _ in 0..MAX_PAGES {
            let query = [("limit", limit.to_string()), ("offset", offset.to_string())];
            let (status, bytes) = self
                .send(endpoint, Method::GET, path, &query, None, None)
                .await?;
            expect(endpoint, status, &bytes, &[StatusCode::OK])?;
            let page: Vec<T> = decode(endpoint, &bytes)?;
            let len = page.len();
            offset += len;
            // Pages are no snapshot (§1.4): a write between pages can show an item twice.
            let mut fresh = 0;
            for item in page {
                if seen.insert(id(&item)) {
                    fresh += 1;
                    all.push(item);
                }
            }
            if len < limit {
                return Ok(all);
            }
            if fresh == 0 {
                return Err(MicrodnsError::Decode {
                    endpoint: endpoint.to_string(),
                    message: format!("paging {path} does not advance (offset ignored?)"),
                });
            }
        }
        Err(MicrodnsError::Decode {
            endpoint: endpoint.to_string(),
            message: format!("paging {path}: more than {MAX_PAGES} full pages"),
        })
    }

    async fn send(
        &self,
        endpoint: &str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        timeout: Option<Duration>,
    ) -> Result<(StatusCode, bytes::Bytes), MicrodnsError> {
        let base = base(endpoint);
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(MicrodnsError::Config(format!(
                "bad endpoint {endpoint:?}: want http://host:port"
            )));
        }
        let url = format!("{base}/api/v1{path}");
        let key = self.api_keys.get(base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(key) = key {
            // Sensitive: reqwest and hyper print it as "Sensitive" in any Debug output.
            let mut value = HeaderValue::from_str(key.expose())
                .map_err(|_| MicrodnsError::Config("the API key is not a valid header".into()))?;
            value.set_sensitive(true);
            req = req.header(API_KEY_HEADER, value);
        }
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(body) = body {
            // `.json()` sets `Content-Type: application/json` (§1.2).
            req = req.json(body);
        }
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let transport = |e: reqwest::Error| MicrodnsError::Transport {
            endpoint: endpoint.to_string(),
            message: describe(&e),
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(transport)?;
        if status == StatusCode::UNAUTHORIZED {
            return Err(MicrodnsError::Unauthorized {
                endpoint: endpoint.to_string(),
                request: format!("{method} /api/v1{path}"),
                key_sent: key.is_some(),
            });
        }
        Ok((status, bytes))
    }
}

/// An endpoint as the keys are looked up: trimmed, without a trailing slash.
fn base(endpoint: &str) -> &str {
    endpoint.trim().trim_end_matches('/')
}

fn find_zone(zones: Vec<Zone>, name: &str) -> Option<Zone> {
    zones.into_iter().find(|z| z.name == name)
}

fn expect(
    endpoint: &str,
    status: StatusCode,
    body: &[u8],
    ok: &[StatusCode],
) -> Result<(), MicrodnsError> {
    if ok.contains(&status) {
        return Ok(());
    }
    Err(MicrodnsError::Status {
        endpoint: endpoint.to_string(),
        code: status.as_u16(),
        body: String::from_utf8_lossy(body).trim().to_string(),
    })
}

fn decode<T: DeserializeOwned>(endpoint: &str, bytes: &[u8]) -> Result<T, MicrodnsError> {
    serde_json::from_slice(bytes).map_err(|e| MicrodnsError::Decode {
        endpoint: endpoint.to_string(),
        message: e.to_string(),
    })
}

/// reqwest's top-level message hides the cause ("error sending request"); name it.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".to_string();
    }
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    msg
}
