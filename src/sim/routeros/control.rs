//! Control API under `/_sim` (spec §5.2): journal, state, knobs, faults, reboot, seed, crash.

use std::sync::Arc;
use std::time::Instant;

use actix_web::HttpResponse;
use serde_json::{Value, json};

use super::device::Tables;
use super::faults::Fault;
use super::shared::Shared;

fn ok(v: Value) -> HttpResponse {
    HttpResponse::Ok().json(v)
}

fn bad(msg: impl Into<String>) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"error": msg.into()}))
}

fn parse(body: &[u8]) -> Result<Value, String> {
    if body.is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))
}

pub async fn handle(sh: &Arc<Shared>, method: &str, path: &str, body: &[u8]) -> HttpResponse {
    let path = path.trim_end_matches('/');
    let resp = route(sh, method, path, body);
    sh.persist_if_dirty();
    resp
}

fn route(sh: &Arc<Shared>, method: &str, path: &str, body: &[u8]) -> HttpResponse {
    let v = match parse(body) {
        Ok(v) => v,
        Err(e) => return bad(e),
    };
    match (method, path) {
        ("GET", "health") => {
            let d = sh.dev();
            ok(
                json!({"ok": true, "profile": d.profile.to_string(), "version": d.profile.version()}),
            )
        }
        ("GET", "journal") => {
            let j = sh.journal.lock().unwrap_or_else(|e| e.into_inner());
            ok(serde_json::to_value(&j.entries).unwrap_or(Value::Null))
        }
        ("DELETE", "journal") => {
            sh.journal.lock().unwrap_or_else(|e| e.into_inner()).clear();
            ok(json!({}))
        }
        ("GET", "state") => {
            let d = sh.dev();
            ok(serde_json::to_value(&d.t).unwrap_or(Value::Null))
        }
        ("POST", "state") => match serde_json::from_value::<Tables>(v) {
            Ok(t) => {
                let mut d = sh.dev();
                d.t = t;
                d.reseed();
                d.rt.dirty = true;
                ok(json!({}))
            }
            Err(e) => bad(format!("invalid state: {e}")),
        },
        ("POST", "reset") => {
            {
                let mut d = sh.dev();
                let profile = d.profile;
                d.t = Tables::fresh(profile);
                d.rt.sessions.clear();
                d.rt.removed.clear();
                d.rt.down_until = None;
                d.reseed();
                d.rt.dirty = true;
            }
            sh.faults.lock().unwrap_or_else(|e| e.into_inner()).clear();
            sh.journal.lock().unwrap_or_else(|e| e.into_inner()).clear();
            ok(json!({}))
        }
        ("GET", "knobs") => ok(serde_json::to_value(&sh.dev().t.knobs).unwrap_or(Value::Null)),
        ("PATCH", "knobs") => {
            let mut d = sh.dev();
            match d.t.knobs.merged(&v) {
                Ok(k) => {
                    let reseed = k.seed != d.t.knobs.seed;
                    d.t.knobs = k;
                    if reseed {
                        d.reseed();
                    }
                    d.rt.dirty = true;
                    ok(serde_json::to_value(&d.t.knobs).unwrap_or(Value::Null))
                }
                Err(e) => bad(e),
            }
        }
        ("GET", "faults") => {
            let f = sh.faults.lock().unwrap_or_else(|e| e.into_inner());
            ok(serde_json::to_value(&*f).unwrap_or(Value::Null))
        }
        ("POST", "faults") => match serde_json::from_value::<Fault>(v) {
            Ok(f) => {
                sh.faults.lock().unwrap_or_else(|e| e.into_inner()).push(f);
                ok(json!({}))
            }
            Err(e) => bad(format!("invalid fault: {e}")),
        },
        ("DELETE", "faults") => {
            sh.faults.lock().unwrap_or_else(|e| e.into_inner()).clear();
            ok(json!({}))
        }
        ("POST", "reboot") => {
            let secs = v.get("downSeconds").and_then(|x| x.as_f64()).unwrap_or(0.0);
            let mut d = sh.dev();
            let down = d.knobs().sim_ms(secs * 1000.0);
            d.reboot(down, Instant::now());
            ok(json!({}))
        }
        ("POST", "seed") => match sh.dev().seed(&v) {
            Ok(()) => ok(json!({})),
            Err(e) => bad(e),
        },
        (m, p) => {
            if m == "POST"
                && let Some(name) = p
                    .strip_prefix("containers/")
                    .and_then(|r| r.strip_suffix("/crash"))
            {
                let crashed = match sh.processes() {
                    Some(mut p) => p.crash(&sh.dev(), name),
                    None => sh.dev().container_crash(name, Instant::now()),
                };
                return match crashed {
                    Ok(()) => ok(json!({})),
                    Err(e) => bad(e),
                };
            }
            HttpResponse::NotFound()
                .json(json!({"error": format!("no control route {m} /_sim/{p}")}))
        }
    }
}
