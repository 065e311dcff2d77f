//! HTTP layer: the `/rest` pipeline (device down, sessions, auth, pause, concurrency,
//! latency, faults, content checks, request cap, journal) and the `/_sim` control routes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use bytes::Bytes;
use rand::RngExt;
use serde_json::Value;

use super::device::{Session, now_text};
use super::errors::{ApiError, error_body};
use super::faults::{self, FaultKind};
use super::journal::Entry;
use super::menus::{self, Reply, Req};
use super::rows::{parse_query_string, percent_decode};
use super::shared::Shared;

/// Raw socket of a plain-TCP connection, stashed by `on_connect` so a fault can drop it.
#[derive(Clone, Copy)]
pub struct ConnFd(pub i32);

/// What a /rest request ends in.
enum Outcome {
    Reply {
        status: u16,
        body: Option<Value>,
        slow: bool,
    },
    Drop,
}

impl From<ApiError> for Outcome {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Drop => Outcome::Drop,
            ApiError::Status { status, detail } => Outcome::Reply {
                status,
                body: Some(error_body(status, detail.as_deref())),
                slow: false,
            },
        }
    }
}

pub async fn entry(req: HttpRequest, body: Bytes, sh: web::Data<Arc<Shared>>) -> HttpResponse {
    let sh: Arc<Shared> = sh.get_ref().clone();
    let path = req.uri().path().to_string();
    if let Some(rest) = path.strip_prefix("/_sim/") {
        return super::control::handle(&sh, req.method().as_str(), rest, &body).await;
    }
    if path != "/rest" && !path.starts_with("/rest/") {
        return json_response(404, Some(error_body(404, None)));
    }
    let _serial = match &sh.serial {
        Some(m) => Some(m.lock().await),
        None => None,
    };
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let journal_body = if body.is_empty() {
        None
    } else {
        Some(
            serde_json::from_slice::<Value>(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned())),
        )
    };
    let outcome = pipeline(&sh, &req, &method, &path, &query, &body).await;
    let status = match &outcome {
        Outcome::Reply { status, .. } => *status,
        Outcome::Drop => 0,
    };
    sh.journal
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Entry {
            seq: 0,
            method,
            path,
            query,
            body: journal_body,
            status,
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        });
    sh.persist_if_dirty();
    match outcome {
        Outcome::Drop => drop_connection(&req),
        Outcome::Reply { status, body, slow } => {
            if slow {
                slow_response(status, body)
            } else {
                json_response(status, body)
            }
        }
    }
}

struct InFlight<'a>(&'a Shared);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

struct SessionGuard<'a> {
    sh: &'a Shared,
    id: u64,
}
impl Drop for SessionGuard<'_> {
    fn drop(&mut self) {
        let mut d = self.sh.dev.lock().unwrap_or_else(|e| e.into_inner());
        if !d.t.knobs.session_leak {
            d.rt.sessions.retain(|s| s.id != self.id);
        }
    }
}

async fn pipeline(
    sh: &Arc<Shared>,
    req: &HttpRequest,
    method: &str,
    path: &str,
    query: &str,
    body: &Bytes,
) -> Outcome {
    let (cap, down) = {
        let d = sh.dev();
        (d.knobs().request_cap(), d.is_down(Instant::now()))
    };
    if down {
        return Outcome::Drop;
    }
    if let Err(e) = authorize(sh, req) {
        return e.into();
    }
    // Session table and leak mode (§1.10).
    let (leak_full, refuse) = {
        let d = sh.dev();
        (
            d.knobs().session_leak && d.rt.sessions.len() >= d.max_sessions(),
            d.knobs().leak_refuse,
        )
    };
    if leak_full {
        if refuse {
            return Outcome::Drop;
        }
        tokio::time::sleep(cap).await;
        return ApiError::session_closed().into();
    }
    let _session = {
        let mut d = sh.dev();
        let id = d.t.alloc();
        let address = req
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        d.rt.sessions.push(Session {
            id,
            name: sh.user.clone(),
            address,
            when: now_text(),
        });
        SessionGuard { sh, id }
    };
    let deadline = tokio::time::Instant::now() + cap;
    // Paused API and concurrency limit: wait, but not past the cap.
    loop {
        let (paused, limit) = {
            let d = sh.dev();
            (d.knobs().paused, d.knobs().concurrency_limit)
        };
        if !paused {
            let acquired = match limit {
                None => {
                    sh.in_flight.fetch_add(1, Ordering::SeqCst);
                    true
                }
                Some(l) => sh
                    .in_flight
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                        (n < l.max(1)).then_some(n + 1)
                    })
                    .is_ok(),
            };
            if acquired {
                break;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return ApiError::session_closed().into();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _in_flight = InFlight(sh);
    // Latency.
    let (delay, fault) = {
        let mut d = sh.dev();
        let k = d.knobs().clone();
        let mut ms = k.latency_ms as f64;
        let mut jitter = k.jitter_ms as f64;
        for r in &k.latency_rules {
            let m_ok = r
                .method
                .as_deref()
                .map(|m| m.eq_ignore_ascii_case(method))
                .unwrap_or(true);
            if m_ok && faults::path_matches(&r.path, path) {
                ms += r.latency_ms as f64;
                jitter += r.jitter_ms as f64;
            }
        }
        if jitter > 0.0 {
            ms += d.rt.rng.random::<f64>() * jitter;
        }
        let mut fl = sh.faults.lock().unwrap_or_else(|e| e.into_inner());
        let fault = faults::pick(&mut fl, method, path, &mut d.rt.rng);
        (
            Duration::from_secs_f64(ms / 1000.0) + sh.fixed_latency,
            fault,
        )
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut slow = false;
    if let Some(f) = fault {
        match f.kind {
            FaultKind::Error => {
                let status = f.status.unwrap_or(400);
                return Outcome::Reply {
                    status,
                    body: Some(error_body(status, f.detail.as_deref())),
                    slow: false,
                };
            }
            FaultKind::Eof => return Outcome::Drop,
            FaultKind::Hang => {
                tokio::time::sleep_until(deadline).await;
                return ApiError::session_closed().into();
            }
            FaultKind::SlowBody => slow = true,
        }
    }
    // Body checks (§1.4).
    let parsed = if body.is_empty() {
        None
    } else {
        if matches!(method, "PUT" | "PATCH" | "POST") {
            let ct = req
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !ct.to_ascii_lowercase().starts_with("application/json") {
                return ApiError::unsupported_media().into();
            }
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => Some(v),
            Err(_) => return ApiError::bad("JSON parse error").into(),
        }
    };
    let segs: Vec<String> = path
        .trim_start_matches("/rest")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let r = Req {
        method: method.to_string(),
        segs,
        query: parse_query_string(query),
        body: parsed,
    };
    match tokio::time::timeout_at(deadline, menus::dispatch(sh, r)).await {
        Err(_) => ApiError::session_closed().into(),
        Ok(Err(e)) => e.into(),
        Ok(Ok(Reply::Json(v))) => Outcome::Reply {
            status: 200,
            body: Some(v),
            slow,
        },
        Ok(Ok(Reply::Empty)) => Outcome::Reply {
            status: 200,
            body: None,
            slow,
        },
    }
}

fn authorize(sh: &Shared, req: &HttpRequest) -> Result<(), ApiError> {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthorized)?;
    let b64 = header
        .strip_prefix("Basic ")
        .ok_or_else(ApiError::unauthorized)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| ApiError::unauthorized())?;
    let text = String::from_utf8(raw).map_err(|_| ApiError::unauthorized())?;
    let (u, p) = text.split_once(':').ok_or_else(ApiError::unauthorized)?;
    if u == sh.user && p == sh.password {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

fn json_response(status: u16, body: Option<Value>) -> HttpResponse {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut b = HttpResponse::build(code);
    if status == 401 {
        b.insert_header(("WWW-Authenticate", "Basic realm=\"routeros\""));
    }
    match body {
        Some(v) => b.content_type("application/json").body(v.to_string()),
        None => b.finish(),
    }
}

/// The real reply, trickled out in small chunks.
fn slow_response(status: u16, body: Option<Value>) -> HttpResponse {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let text = body.map(|v| v.to_string()).unwrap_or_default().into_bytes();
    let stream = futures::stream::unfold((text, 0usize), |(text, pos)| async move {
        if pos >= text.len() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let end = (pos + 8).min(text.len());
        let chunk = Bytes::copy_from_slice(&text[pos..end]);
        Some((Ok::<_, std::io::Error>(chunk), (text, end)))
    });
    HttpResponse::build(code)
        .content_type("application/json")
        .streaming(stream)
}

/// Closes the connection without a response (EOF for the client).
fn drop_connection(req: &HttpRequest) -> HttpResponse {
    if let Some(ConnFd(fd)) = req.conn_data::<ConnFd>() {
        use std::os::fd::FromRawFd;
        // SAFETY: the fd belongs to the live connection serving this request; it is only
        // shut down here, never closed (ManuallyDrop), so actix keeps sole ownership.
        let sock = std::mem::ManuallyDrop::new(unsafe { std::net::TcpStream::from_raw_fd(*fd) });
        let _ = sock.shutdown(std::net::Shutdown::Both);
    }
    // TLS connections (no fd stashed): a body that fails at once makes actix drop the connection.
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped by fault"))
    });
    HttpResponse::Ok().streaming(stream)
}
