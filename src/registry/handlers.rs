//! The OCI distribution endpoints (spec images.md §2.3) behind one entry point that parses
//! the route from the raw path, validates it, and isolates panics (§2.5).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;

use actix_web::body::SizedStream;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures::{FutureExt, StreamExt};
use sha2::Digest as _;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::names::{Digest, Reference, Route, RouteError, parse_route};
use super::store::{Store, blocking};
use super::uploads::{Session, Uploads, rehash};

/// Manifest bodies above this are refused with 413 (spec: limit ≥ 4 MiB).
pub const MANIFEST_LIMIT: usize = 4 * 1024 * 1024;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

const CONTENT_DIGEST: &str = "Docker-Content-Digest";
const UPLOAD_UUID: &str = "Docker-Upload-UUID";

/// Shared server state.
pub struct Registry {
    pub store: Store,
    pub uploads: Uploads,
    pub delete_enabled: bool,
    pub test_hooks: bool,
    /// Called for every committed tag push and watcher change (webhook, SSE, test hook).
    pub on_push: Option<super::PushHook>,
    /// The client for upstream registries (pull-through, watcher, `_pull`).
    pub upstream: Arc<super::upstream::Upstream>,
    /// `pullThrough: true`: missing content is fetched from upstream (§2.7).
    pub pull_through: Option<super::pull_through::PullThrough>,
    /// `watchImages` configured (§2.7); `POST :5001/poll` triggers it.
    pub watcher: Option<Arc<super::watcher::Watcher>>,
    /// Push events for `GET :5001/events` (§2.8).
    pub feed: super::feed::PushFeed,
}

/// An OCI error response.
#[derive(Debug)]
pub struct OciError {
    status: StatusCode,
    code: &'static str,
    message: String,
    headers: Vec<(&'static str, String)>,
    unread: Option<UnreadBody>,
}

/// The rest of a request body the handler refused to read. actix-http drains a dropped
/// chunked body to its end to keep the connection alive; a body still held when the
/// response goes out makes it close the connection instead, so the error response keeps
/// it until the response body has been sent.
pub struct UnreadBody {
    _payload: web::Payload,
}

impl std::fmt::Debug for UnreadBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnreadBody")
    }
}

impl OciError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> OciError {
        OciError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
            headers: Vec::new(),
            unread: None,
        }
    }

    /// Keeps `payload` until the error response is written (see [`UnreadBody`]).
    fn holding(mut self, payload: web::Payload) -> OciError {
        self.unread = Some(UnreadBody { _payload: payload });
        self
    }

    fn header(mut self, k: &'static str, v: String) -> OciError {
        self.headers.push((k, v));
        self
    }

    pub fn response(self) -> HttpResponse {
        let mut b = HttpResponse::build(self.status);
        for (k, v) in &self.headers {
            b.insert_header((*k, v.as_str()));
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body is not wanted: close instead of draining it for keep-alive.
            b.force_close();
        }
        b.content_type("application/json");
        let json = bytes::Bytes::from(
            serde_json::json!({"errors": [{"code": self.code, "message": self.message, "detail": null}]})
                .to_string(),
        );
        match self.unread {
            None => b.body(json),
            // The body is held until the response body has ended (the poll after its only
            // chunk), not only until that chunk is produced: dropped earlier, actix-http could
            // still start draining it before the close.
            Some(unread) => b.streaming(futures::stream::unfold(
                (Some(json), Some(unread)),
                |(json, unread)| async move {
                    match json {
                        Some(json) => {
                            Some((Ok::<_, std::convert::Infallible>(json), (None, unread)))
                        }
                        None => {
                            drop(unread);
                            None
                        }
                    }
                },
            )),
        }
    }
}

impl From<std::io::Error> for OciError {
    fn from(e: std::io::Error) -> OciError {
        tracing::error!(error = %e, "registry storage error");
        OciError::new(500, "UNKNOWN", "storage error")
    }
}

type R = Result<HttpResponse, OciError>;

fn blob_unknown() -> OciError {
    OciError::new(404, "BLOB_UNKNOWN", "blob unknown to registry")
}
fn manifest_unknown() -> OciError {
    OciError::new(404, "MANIFEST_UNKNOWN", "manifest unknown")
}
fn upload_unknown() -> OciError {
    OciError::new(
        404,
        "BLOB_UPLOAD_UNKNOWN",
        "blob upload unknown to registry",
    )
}
fn digest_invalid(m: &str) -> OciError {
    OciError::new(400, "DIGEST_INVALID", m)
}
fn unsupported() -> OciError {
    OciError::new(405, "UNSUPPORTED", "the operation is unsupported")
}

/// The single entry point: every request lands here.
pub async fn entry(
    req: HttpRequest,
    payload: web::Payload,
    reg: web::Data<Arc<Registry>>,
) -> HttpResponse {
    let reg = reg.get_ref().clone();
    let method = req.method().clone();
    let path = req.path().to_string();
    let fut = AssertUnwindSafe(dispatch(req, payload, reg)).catch_unwind();
    let mut resp = match fut.await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => e.response(),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(%method, %path, panic = %what, "registry handler panicked");
            OciError::new(500, "UNKNOWN", "internal error").response()
        }
    };
    resp.headers_mut().insert(
        header::HeaderName::from_static("docker-distribution-api-version"),
        header::HeaderValue::from_static("registry/2.0"),
    );
    resp
}

async fn dispatch(req: HttpRequest, payload: web::Payload, reg: Arc<Registry>) -> R {
    let raw = req.uri().path().to_string();
    let route = match parse_route(&raw) {
        Ok(r) => r,
        Err(RouteError::Name) => {
            return Err(OciError::new(
                400,
                "NAME_INVALID",
                "invalid repository name",
            ));
        }
        Err(RouteError::Digest) => return Err(digest_invalid("invalid digest")),
        Err(RouteError::Tag) => return Err(OciError::new(400, "TAG_INVALID", "invalid tag")),
        Err(RouteError::NotFound) => {
            return Err(OciError::new(404, "NAME_UNKNOWN", "no such route"));
        }
    };
    let q: HashMap<String, String> =
        web::Query::<HashMap<String, String>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .unwrap_or_default();
    let m = req.method().clone();
    let head = m == Method::HEAD;
    match (route, m) {
        (Route::Base, Method::GET | Method::HEAD) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body("{}")),
        (Route::Catalog, Method::GET) => catalog(&reg, &q),
        (Route::Pull, Method::POST) => super::pull::handle(&reg, payload).await,
        (Route::TestPanic, _) if reg.test_hooks => panic!("test hook: injected handler panic"),
        (Route::Tags(name), Method::GET) => tags_list(&reg, &name, &q),
        (Route::Manifest(name, r), Method::GET | Method::HEAD) => {
            if let Some(pt) = &reg.pull_through {
                let accept = req
                    .headers()
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok());
                pt.manifest(&reg, &name, &r, accept).await;
            }
            get_manifest(&reg, &name, &r, head).await
        }
        (Route::Manifest(name, r), Method::PUT) => {
            put_manifest(&reg, &req, payload, &name, &r).await
        }
        (Route::Manifest(name, r), Method::DELETE) => delete_manifest(&reg, &name, &r).await,
        (Route::Blob(name, d), Method::GET | Method::HEAD) => {
            if let Some(pt) = &reg.pull_through {
                pt.blob(&reg, &name, &d).await;
            }
            get_blob(&reg, &req, &d, head).await
        }
        (Route::Blob(..), Method::DELETE) => Err(unsupported()),
        (Route::UploadStart(name), Method::POST) => start_upload(&reg, payload, &name, &q).await,
        (Route::Upload(name, id), Method::PATCH) => {
            patch_upload(&reg, &req, payload, &name, &id).await
        }
        (Route::Upload(name, id), Method::PUT) => put_upload(&reg, payload, &name, &id, &q).await,
        (Route::Upload(name, id), Method::GET) => upload_status(&reg, &name, &id).await,
        (Route::Upload(name, id), Method::DELETE) => cancel_upload(&reg, &name, &id).await,
        _ => Err(unsupported()),
    }
}

// ---------------------------------------------------------------------------
// Pagination (tags/list and _catalog)

/// (n, last) of the next page when a listing was truncated.
type NextPage = Option<(usize, String)>;

fn paginate(
    items: Vec<String>,
    q: &HashMap<String, String>,
) -> Result<(Vec<String>, NextPage), OciError> {
    let mut items: Vec<String> = match q.get("last") {
        Some(last) => items.into_iter().filter(|t| t > last).collect(),
        None => items,
    };
    let Some(n) = q.get("n") else {
        return Ok((items, None));
    };
    let n: usize = n.parse().map_err(|_| {
        OciError::new(
            400,
            "PAGINATION_NUMBER_INVALID",
            "invalid number of results requested",
        )
    })?;
    if items.len() > n {
        items.truncate(n);
        let next = items.last().cloned().map(|l| (n, l));
        return Ok((items, next));
    }
    Ok((items, None))
}

fn link(path: &str, next: NextPage, b: &mut actix_web::HttpResponseBuilder) {
    if let Some((n, last)) = next {
        b.insert_header((
            header::LINK,
            format!("<{path}?n={n}&last={last}>; rel=\"next\""),
        ));
    }
}

fn catalog(reg: &Registry, q: &HashMap<String, String>) -> R {
    let (page, next) = paginate(reg.store.catalog(), q)?;
    let mut b = HttpResponse::Ok();
    link("/v2/_catalog", next, &mut b);
    Ok(b.content_type("application/json")
        .body(serde_json::json!({ "repositories": page }).to_string()))
}

fn tags_list(reg: &Registry, name: &str, q: &HashMap<String, String>) -> R {
    let tags = reg.store.tags(name).ok_or_else(|| {
        OciError::new(404, "NAME_UNKNOWN", "repository name not known to registry")
    })?;
    let (page, next) = paginate(tags, q)?;
    let mut b = HttpResponse::Ok();
    link(&format!("/v2/{name}/tags/list"), next, &mut b);
    Ok(b.content_type("application/json")
        .body(serde_json::json!({ "name": name, "tags": page }).to_string()))
}

// ---------------------------------------------------------------------------
// Manifests

fn resolve(reg: &Registry, name: &str, r: &Reference) -> Option<(Digest, String)> {
    let d = match r {
        Reference::Tag(t) => reg.store.read_tag(name, t)?,
        Reference::Digest(d) => d.clone(),
    };
    let media = reg.store.read_revision(name, &d)?;
    Some((d, media))
}

async fn get_manifest(reg: &Registry, name: &str, r: &Reference, head: bool) -> R {
    let (d, media) = resolve(reg, name, r).ok_or_else(manifest_unknown)?;
    let path = reg.store.blob_path(&d);
    let body = blocking(move || {
        use std::io::Read;
        let mut buf = Vec::new();
        std::fs::File::open(path)?
            .take(MANIFEST_LIMIT as u64 + 1)
            .read_to_end(&mut buf)?;
        Ok(buf)
    })
    .await
    .map_err(|_| manifest_unknown())?;
    let mut b = HttpResponse::Ok();
    b.insert_header((header::CONTENT_TYPE, media))
        .insert_header((CONTENT_DIGEST, d.to_string()));
    if head {
        let len = body.len() as u64;
        return Ok(b.body(SizedStream::new(
            len,
            futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>(),
        )));
    }
    Ok(b.body(body))
}

pub fn known_manifest_type(t: &str) -> bool {
    matches!(t, OCI_MANIFEST | OCI_INDEX | DOCKER_MANIFEST | DOCKER_LIST)
}

/// Reads at most `limit` bytes; `Err(413)` as soon as more arrive.
pub async fn read_bounded(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, OciError> {
    let too_big = || {
        OciError::new(
            413,
            "SIZE_INVALID",
            format!("manifest larger than {limit} bytes"),
        )
    };
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        // A body up to twice the limit is read and discarded first, so a client that sends
        // it whole reads the 413 instead of a reset; larger ones are refused at once.
        if len <= 2 * limit as u64 {
            while let Some(Ok(_)) = payload.next().await {}
        }
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| OciError::new(400, "MANIFEST_INVALID", format!("reading body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_big().holding(payload));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn descriptor_digest(v: &serde_json::Value) -> Result<Digest, OciError> {
    v.get("digest")
        .and_then(|d| d.as_str())
        .and_then(Digest::parse)
        .ok_or_else(|| {
            OciError::new(
                400,
                "MANIFEST_INVALID",
                "descriptor without a valid sha256 digest",
            )
        })
}

async fn put_manifest(
    reg: &Registry,
    req: &HttpRequest,
    payload: web::Payload,
    name: &str,
    r: &Reference,
) -> R {
    let body = read_bounded(req, payload, MANIFEST_LIMIT).await?;
    let invalid = |m: &str| OciError::new(400, "MANIFEST_INVALID", m);
    let json: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| invalid("manifest is not JSON"))?;
    let obj = json
        .as_object()
        .ok_or_else(|| invalid("manifest is not a JSON object"))?;
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
        .unwrap_or_default();
    let media = if known_manifest_type(&ct) {
        ct
    } else {
        match obj.get("mediaType").and_then(|m| m.as_str()) {
            Some(m) if known_manifest_type(m) => m.to_string(),
            _ => return Err(invalid("unknown manifest media type")),
        }
    };
    let d = Digest::of(&body);
    if let Reference::Digest(want) = r
        && *want != d
    {
        return Err(digest_invalid(
            "manifest digest does not match the reference",
        ));
    }
    if media == OCI_MANIFEST || media == DOCKER_MANIFEST {
        let config = obj
            .get("config")
            .ok_or_else(|| invalid("manifest without config"))?;
        let mut wanted = vec![descriptor_digest(config)?];
        let layers = obj
            .get("layers")
            .and_then(|l| l.as_array())
            .ok_or_else(|| invalid("manifest without layers"))?;
        for l in layers {
            wanted.push(descriptor_digest(l)?);
        }
        for w in &wanted {
            if reg.store.blob_size(w).is_none() {
                return Err(OciError::new(
                    400,
                    "MANIFEST_BLOB_UNKNOWN",
                    format!("blob unknown to registry: {w}"),
                ));
            }
        }
    } else {
        // Index: children need not exist (the watcher stores arm64-only indexes).
        let list = obj
            .get("manifests")
            .and_then(|l| l.as_array())
            .ok_or_else(|| invalid("index without manifests"))?;
        for m in list {
            descriptor_digest(m)?;
        }
    }
    commit_manifest(reg, name, r, body, media).await?;
    if let (Some(pt), Reference::Tag(t)) = (&reg.pull_through, r) {
        pt.forget(name, t);
    }
    if let Some(hook) = &reg.on_push {
        hook(name, &r.to_string(), &d);
    }
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v2/{name}/manifests/{d}")))
        .insert_header((CONTENT_DIGEST, d.to_string()))
        .finish())
}

/// Stores manifest bytes as a blob, records the revision (media type) and, for a tag
/// reference, points the tag at it.
pub async fn commit_manifest(
    reg: &Registry,
    name: &str,
    r: &Reference,
    body: Vec<u8>,
    media: String,
) -> std::io::Result<Digest> {
    let d = reg.store.put_small_blob(body).await?;
    let lock = reg.store.repo_locks.get(name);
    let _w = lock.write().await;
    reg.store
        .write_small(reg.store.revision_path(name, &d), media.into_bytes())
        .await?;
    if let Reference::Tag(t) = r {
        reg.store
            .write_small(reg.store.tag_path(name, t), d.to_string().into_bytes())
            .await?;
    }
    Ok(d)
}

async fn delete_manifest(reg: &Registry, name: &str, r: &Reference) -> R {
    if !reg.delete_enabled {
        return Err(unsupported());
    }
    let lock = reg.store.repo_locks.get(name);
    let _w = lock.write().await;
    let done = match r {
        Reference::Tag(t) => reg.store.delete_tag(name, t),
        Reference::Digest(d) => reg.store.delete_revision(name, d),
    };
    if done {
        Ok(HttpResponse::Accepted().finish())
    } else {
        Err(manifest_unknown())
    }
}

// ---------------------------------------------------------------------------
// Blobs

/// `Range: bytes=a-b | a- | -n` → inclusive (start, end); `Err(())` when unsatisfiable.
fn parse_range(v: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = v.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // multi-range: serve the whole blob
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || size == 0 {
            Err(())
        } else {
            Ok((size.saturating_sub(n), size - 1))
        }
    } else {
        let s: u64 = a.parse().ok()?;
        let e: u64 = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse().ok()?
        };
        if s >= size || e < s {
            Err(())
        } else {
            Ok((s, e.min(size - 1)))
        }
    };
    Some(r)
}

fn file_stream(
    path: std::path::PathBuf,
    start: u64,
    len: u64,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    struct St {
        file: Option<tokio::fs::File>,
        path: std::path::PathBuf,
        start: u64,
        left: u64,
    }
    futures::stream::try_unfold(
        St {
            file: None,
            path,
            start,
            left: len,
        },
        |mut st| async move {
            if st.left == 0 {
                return Ok(None);
            }
            if st.file.is_none() {
                let mut f = tokio::fs::File::open(&st.path).await?;
                f.seek(std::io::SeekFrom::Start(st.start)).await?;
                st.file = Some(f);
            }
            let want = st.left.min(64 * 1024) as usize;
            let mut buf = vec![0u8; want];
            let n = match st.file.as_mut() {
                Some(f) => f.read(&mut buf).await?,
                None => 0,
            };
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "blob shorter than expected",
                ));
            }
            buf.truncate(n);
            st.left -= n as u64;
            Ok(Some((bytes::Bytes::from(buf), st)))
        },
    )
}

async fn get_blob(reg: &Registry, req: &HttpRequest, d: &Digest, head: bool) -> R {
    let size = reg.store.blob_size(d).ok_or_else(blob_unknown)?;
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_range(v, size));
    let (status, start, len) = match range {
        None => (StatusCode::OK, 0, size),
        Some(Ok((s, e))) => (StatusCode::PARTIAL_CONTENT, s, e - s + 1),
        Some(Err(())) => {
            return Err(
                OciError::new(416, "BLOB_UNKNOWN", "requested range not satisfiable")
                    .header("Content-Range", format!("bytes */{size}")),
            );
        }
    };
    let mut b = HttpResponse::build(status);
    b.insert_header((header::CONTENT_TYPE, "application/octet-stream"))
        .insert_header((CONTENT_DIGEST, d.to_string()))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::ETAG, format!("\"{d}\"")));
    if status == StatusCode::PARTIAL_CONTENT {
        b.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{size}", start, start + len - 1),
        ));
    }
    if head {
        return Ok(b.body(SizedStream::new(
            len,
            futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>(),
        )));
    }
    Ok(b.body(SizedStream::new(
        len,
        file_stream(reg.store.blob_path(d), start, len).boxed_local(),
    )))
}

// ---------------------------------------------------------------------------
// Uploads

fn range_header(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

fn session_response(status: StatusCode, name: &str, id: &uuid::Uuid, size: u64) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}")))
        .insert_header((UPLOAD_UUID, id.to_string()))
        .insert_header((header::RANGE, range_header(size)))
        .insert_header((header::CONTENT_LENGTH, "0"))
        .finish()
}

fn blob_created(name: &str, d: &Digest) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v2/{name}/blobs/{d}")))
        .insert_header((CONTENT_DIGEST, d.to_string()))
        .insert_header((header::CONTENT_LENGTH, "0"))
        .finish()
}

/// Streams the request body onto `file`, hashing and touching as bytes arrive.
async fn pump(
    payload: &mut web::Payload,
    file: &mut tokio::fs::File,
    hasher: &mut sha2::Sha256,
    touch: &dyn Fn(),
) -> Result<u64, String> {
    let mut n = 0u64;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| format!("reading body: {e}"))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| format!("writing: {e}"))?;
        hasher.update(&chunk);
        n += chunk.len() as u64;
        touch();
    }
    file.flush().await.map_err(|e| format!("writing: {e}"))?;
    Ok(n)
}

async fn start_upload(
    reg: &Registry,
    mut payload: web::Payload,
    name: &str,
    q: &HashMap<String, String>,
) -> R {
    if let Some(m) = q.get("mount") {
        if let Some(d) = Digest::parse(m)
            && reg.store.blob_size(&d).is_some()
        {
            return Ok(blob_created(name, &d));
        }
    } else if let Some(ds) = q.get("digest") {
        // Single-POST monolithic upload: verify and commit in one step.
        let want = Digest::parse(ds).ok_or_else(|| digest_invalid("invalid digest"))?;
        let tmp = reg.store.tmp_path();
        let mut f = tokio::fs::File::create(&tmp).await?;
        let mut h = sha2::Sha256::new();
        let res = pump(&mut payload, &mut f, &mut h, &|| {}).await;
        if let Err(e) = res {
            drop(f);
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(OciError::new(400, "BLOB_UPLOAD_INVALID", e));
        }
        if Digest::from_hasher(h) != want {
            drop(f);
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(digest_invalid(
                "provided digest did not match uploaded content",
            ));
        }
        f.sync_all().await?;
        drop(f);
        reg.store.commit_blob(&tmp, &want).await?;
        return Ok(blob_created(name, &want));
    }
    let s = reg.uploads.create(&reg.store, name).await?;
    Ok(session_response(StatusCode::ACCEPTED, name, &s.id, 0))
}

/// `Content-Range: [bytes ]<start>-<end>[/<total>]` → start.
fn content_range_start(v: &str) -> Option<u64> {
    let v = v.trim();
    let v = v
        .strip_prefix("bytes ")
        .or_else(|| v.strip_prefix("bytes="))
        .unwrap_or(v);
    let v = v.split('/').next()?;
    let (a, _) = v.split_once('-')?;
    a.trim().parse().ok()
}

/// Appends the request body to a locked session. On a broken body the data file is
/// truncated back and the hash restored, so nothing half-received stays.
async fn append(
    reg: &Registry,
    s: &Session,
    st: &mut super::uploads::SessionState,
    payload: &mut web::Payload,
) -> Result<(), OciError> {
    let path = reg.uploads.data_path(&s.id);
    if st.hasher.is_none() {
        st.hasher = Some(rehash(path.clone(), st.size).await?);
    }
    let before = st.size;
    let mut h = st.hasher.clone().unwrap_or_default();
    let mut f = tokio::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .await?;
    f.set_len(before).await?;
    f.seek(std::io::SeekFrom::Start(before)).await?;
    match pump(payload, &mut f, &mut h, &|| reg.uploads.touch(s)).await {
        Ok(n) => {
            st.size = before + n;
            st.hasher = Some(h);
            if n > 0 {
                reg.uploads.write_meta(&reg.store, s, st.size).await?;
            }
            Ok(())
        }
        Err(e) => {
            let _ = f.set_len(before).await;
            tracing::warn!(upload = %s.id, error = %e, "upload body broken; chunk discarded");
            Err(OciError::new(400, "BLOB_UPLOAD_INVALID", e))
        }
    }
}

async fn patch_upload(
    reg: &Registry,
    req: &HttpRequest,
    mut payload: web::Payload,
    name: &str,
    id: &uuid::Uuid,
) -> R {
    let s = reg.uploads.get(name, id).ok_or_else(upload_unknown)?;
    let mut st = s.state.lock().await;
    if st.closed {
        return Err(upload_unknown());
    }
    if let Some(cr) = req.headers().get(header::CONTENT_RANGE) {
        let start = cr.to_str().ok().and_then(content_range_start);
        if start != Some(st.size) {
            return Err(OciError::new(
                416,
                "BLOB_UPLOAD_INVALID",
                "content range does not start at the current offset",
            )
            .header("Location", format!("/v2/{name}/blobs/uploads/{id}"))
            .header("Range", range_header(st.size))
            .header("Docker-Upload-UUID", id.to_string()));
        }
    }
    append(reg, &s, &mut st, &mut payload).await?;
    Ok(session_response(StatusCode::ACCEPTED, name, id, st.size))
}

async fn put_upload(
    reg: &Registry,
    mut payload: web::Payload,
    name: &str,
    id: &uuid::Uuid,
    q: &HashMap<String, String>,
) -> R {
    let s = reg.uploads.get(name, id).ok_or_else(upload_unknown)?;
    let mut st = s.state.lock().await;
    if st.closed {
        return Err(upload_unknown());
    }
    let want = q
        .get("digest")
        .and_then(|d| Digest::parse(d))
        .ok_or_else(|| digest_invalid("digest parameter missing or invalid"))?;
    append(reg, &s, &mut st, &mut payload).await?;
    let got = st.hasher.clone().map(Digest::from_hasher);
    if got.as_ref() != Some(&want) {
        st.closed = true;
        reg.uploads.remove(id);
        return Err(digest_invalid(
            "provided digest did not match uploaded content",
        ));
    }
    let path = reg.uploads.data_path(id);
    let p2 = path.clone();
    blocking(move || {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p2)?
            .sync_all()
    })
    .await?;
    reg.store.commit_blob(Path::new(&path), &want).await?;
    st.closed = true;
    reg.uploads.remove(id);
    Ok(blob_created(name, &want))
}

async fn upload_status(reg: &Registry, name: &str, id: &uuid::Uuid) -> R {
    let s = reg.uploads.get(name, id).ok_or_else(upload_unknown)?;
    let st = s.state.lock().await;
    if st.closed {
        return Err(upload_unknown());
    }
    Ok(session_response(StatusCode::NO_CONTENT, name, id, st.size))
}

async fn cancel_upload(reg: &Registry, name: &str, id: &uuid::Uuid) -> R {
    let s = reg.uploads.get(name, id).ok_or_else(upload_unknown)?;
    let mut st = s.state.lock().await;
    if st.closed {
        return Err(upload_unknown());
    }
    st.closed = true;
    reg.uploads.remove(id);
    Ok(HttpResponse::NoContent().finish())
}
