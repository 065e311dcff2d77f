//! HTTP layer: `/api/v1` requests through the fault pipeline and the request log, and
//! `/_control/` requests straight to [`super::control`].

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use rand::RngExt;
use serde_json::{Value, json};

use super::control;
use super::faults::{BadJsonMode, FaultKind};
use super::log::LoggedRequest;
use super::rest::{self, Body, ListMods, Reply, Route};
use super::shared::Shared;
use super::store::now_text;

/// Marks the app on the separate control port (control routes only).
#[derive(Clone, Copy)]
pub struct ControlPort(pub bool);

pub async fn entry(
    req: HttpRequest,
    body: Bytes,
    sh: web::Data<Arc<Shared>>,
    port: web::Data<ControlPort>,
) -> HttpResponse {
    let sh: Arc<Shared> = sh.get_ref().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    if let Some(rest) = path.strip_prefix("/_control/") {
        let r = control::handle(&sh, req.method().as_str(), rest, &query, &body, port.0).await;
        return to_http(r, None);
    }
    if port.0 {
        return HttpResponse::NotFound().finish();
    }
    api(&sh, &req, &path, &query, &body).await
}

async fn api(sh: &Shared, req: &HttpRequest, path: &str, query: &str, body: &[u8]) -> HttpResponse {
    let method = req.method().as_str();
    let route = Route::parse(path);
    let template = route.as_ref().map(Route::template).unwrap_or("");
    let mut log = LoggedRequest {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        body: String::from_utf8_lossy(body).into_owned(),
        status: 0,
        route: template.to_string(),
        time: now_text(),
        api_key_sent: req.headers().contains_key("x-api-key"),
    };
    let fired = sh.faults().fire(method, template, path);
    let mut mods = ListMods::default();
    let mut post = Vec::new();
    let mut early = None;
    for k in fired {
        match k {
            FaultKind::RequireApiKey { key } => {
                let sent = req.headers().get("x-api-key").and_then(|v| v.to_str().ok());
                if template != "/api/v1/health" && sent != Some(key.as_str()) {
                    early = Some(Reply::empty(401));
                    break;
                }
            }
            FaultKind::DelayMs { ms, jitter_ms } => {
                let extra = if jitter_ms > 0 {
                    rand::rng().random_range(0..=jitter_ms)
                } else {
                    0
                };
                tokio::time::sleep(Duration::from_millis(ms + extra)).await;
            }
            FaultKind::Blackhole => {
                sh.log().push(log);
                return std::future::pending().await;
            }
            FaultKind::Status { code, body } => {
                early = Some(Reply::text(code, body));
                break;
            }
            FaultKind::PageOverride { items, repeat } => mods.page_override = Some((items, repeat)),
            FaultKind::MutateBetweenPages { after_page, action } => {
                mods.mutate = Some((after_page, action))
            }
            FaultKind::ZoneListCap { filler } => mods.zone_filler = Some(filler),
            k @ (FaultKind::BadJson { .. } | FaultKind::StallBody { .. }) => post.push(k),
            FaultKind::Refuse | FaultKind::Wipe => {}
        }
    }
    let reply = match (early, route) {
        (Some(r), _) => r,
        (None, None) => Reply::empty(404),
        (None, Some(route)) => {
            let ct = req
                .headers()
                .get(actix_web::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let r = rest::Request {
                method,
                route,
                query,
                content_type: ct,
                body,
            };
            let reply = rest::handle(sh, &r, &mods);
            if method != "GET" && reply.status < 300 {
                sh.persist();
            }
            reply
        }
    };
    let mut reply = reply;
    let mut stall = None;
    for k in post {
        match k {
            FaultKind::BadJson { mode } => reply = bad_json(reply, mode),
            FaultKind::StallBody { after_bytes } => stall = Some(after_bytes),
            _ => {}
        }
    }
    log.status = reply.status;
    sh.log().push(log);
    to_http(reply, stall)
}

fn bad_json(reply: Reply, mode: BadJsonMode) -> Reply {
    let real = match reply.body {
        Body::Json(v) => v,
        _ => Value::Array(vec![]),
    };
    let text = match mode {
        BadJsonMode::Truncated => {
            let full = real.to_string();
            let cut = (full.len() / 2).max(1);
            full[..cut.min(full.len())].to_string()
        }
        BadJsonMode::WrongShape if real.is_array() => json!({"unexpected": "object"}).to_string(),
        BadJsonMode::WrongShape => json!(["unexpected", "array"]).to_string(),
    };
    Reply {
        status: 200,
        body: Body::Raw(text),
        allow: None,
    }
}

pub fn to_http(r: Reply, stall: Option<usize>) -> HttpResponse {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut b = HttpResponse::build(status);
    if let Some(allow) = r.allow {
        b.insert_header(("Allow", allow));
    }
    let (ct, bytes) = match r.body {
        Body::Empty => (None, Bytes::new()),
        Body::Text(t) => (Some("text/plain; charset=utf-8"), Bytes::from(t)),
        Body::Raw(t) => (Some("application/json"), Bytes::from(t)),
        Body::Json(v) => (Some("application/json"), Bytes::from(v.to_string())),
    };
    if let Some(ct) = ct {
        b.insert_header(("Content-Type", ct));
    }
    match stall {
        Some(n) => {
            let len = bytes.len() as u64;
            let first = bytes.slice(..n.min(bytes.len()));
            let s = futures::stream::StreamExt::chain(
                futures::stream::once(async move { Ok::<_, std::io::Error>(first) }),
                futures::stream::pending(),
            );
            b.body(actix_web::body::SizedStream::new(len, Box::pin(s)))
        }
        None => b.body(bytes),
    }
}
