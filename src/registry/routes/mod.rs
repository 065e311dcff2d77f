//! The OCI distribution endpoints (spec images.md §2.3) behind one entry point that parses
//! the route from the raw path ([`path`]), validates it, dispatches it to its route group and
//! isolates panics (§2.5). Every answer carries `Docker-Distribution-API-Version`.

mod blobs;
mod listings;
mod manifests;
mod path;
mod pull;
mod reply;
mod uploads;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures::FutureExt;

use super::error::{OciError, digest_invalid, unsupported};
use super::state::Registry;
use path::{Route, RouteError, parse_route};
use reply::Reply;

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

async fn dispatch(req: HttpRequest, payload: web::Payload, reg: Arc<Registry>) -> Reply {
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
        (Route::Catalog, Method::GET) => listings::catalog(&reg, &q),
        (Route::Pull, Method::POST) => pull::handle(&reg, payload).await,
        (Route::TestPanic, _) if reg.test_hooks => panic!("test hook: injected handler panic"),
        (Route::Tags(name), Method::GET) => listings::tags_list(&reg, &name, &q),
        (Route::Manifest(name, r), Method::GET | Method::HEAD) => {
            if let Some(pt) = &reg.pull_through {
                let accept = req
                    .headers()
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok());
                pt.manifest(&reg.store, &name, &r, accept).await;
            }
            manifests::get_manifest(&reg, &name, &r, head).await
        }
        (Route::Manifest(name, r), Method::PUT) => {
            manifests::put_manifest(&reg, &req, payload, &name, &r).await
        }
        (Route::Manifest(name, r), Method::DELETE) => {
            manifests::delete_manifest(&reg, &name, &r).await
        }
        (Route::Blob(name, d), Method::GET | Method::HEAD) => {
            if let Some(pt) = &reg.pull_through {
                pt.blob(&reg.store, &name, &d).await;
            }
            blobs::get_blob(&reg, &req, &d, head).await
        }
        (Route::Blob(..), Method::DELETE) => Err(unsupported()),
        (Route::UploadStart(name), Method::POST) => {
            uploads::start_upload(&reg, payload, &name, &q).await
        }
        (Route::Upload(name, id), Method::PATCH) => {
            uploads::patch_upload(&reg, &req, payload, &name, &id).await
        }
        (Route::Upload(name, id), Method::PUT) => {
            uploads::put_upload(&reg, payload, &name, &id, &q).await
        }
        (Route::Upload(name, id), Method::GET) => uploads::upload_status(&reg, &name, &id).await,
        (Route::Upload(name, id), Method::DELETE) => uploads::cancel_upload(&reg, &name, &id).await,
        _ => Err(unsupported()),
    }
}
