//! `POST /v2/_pull` (mkube extension, spec images.md §2.3): copy `<host>/<repo>:<tag>`
//! from an upstream registry into the store under the full upstream repository path.
//! Indexes are stored with their `linux/arm64` child (else the first entry).
//!
//! Upstream access is the registry's shared upstream client
//! ([`crate::registry::upstream`]): plain
//! HTTP for loopback hosts, HTTPS with the built-in webpki roots otherwise, the bearer-token
//! flow of §2.7, JSON-only manifests, every blob digest-verified in `tmp/` before it is
//! committed.

use actix_web::{HttpResponse, web};
use futures::StreamExt;

use super::reply::Reply;
use crate::oci::reference;
use crate::registry::error::OciError;
use crate::registry::names::{Digest, Reference, valid_name, valid_tag};
use crate::registry::state::Registry;
use crate::registry::upstream::{Source, mirror};

fn bad(m: impl Into<String>) -> OciError {
    OciError::new(400, "UNSUPPORTED", m)
}
fn upstream(m: impl Into<String>) -> OciError {
    OciError::new(502, "UNKNOWN", m)
}

/// `host/repo[:tag|@digest]` → (host, repo, reference): the host must be spelled out, and
/// the repository and tag must be valid here, where the image is stored under that name.
pub fn parse_image(image: &str) -> Option<(String, String, Reference)> {
    let (host, rest) = reference::split_registry(image);
    let host = host?;
    let parts = reference::split(rest);
    let repo = parts.name;
    let reference = match (parts.tag, parts.digest) {
        (None, None) => Reference::Tag("latest".into()),
        (Some(t), None) if valid_tag(t) => Reference::Tag(t.to_string()),
        (None, Some(d)) => Reference::Digest(Digest::parse(d)?),
        _ => return None,
    };
    valid_name(repo).then(|| (host.to_string(), repo.to_string(), reference))
}

pub async fn handle(reg: &Registry, payload: web::Payload) -> Reply {
    #[derive(serde::Deserialize)]
    struct Body {
        image: String,
    }
    let mut payload = payload;
    let mut raw = Vec::new();
    while let Some(c) = payload.next().await {
        let c = c.map_err(|e| bad(format!("reading body: {e}")))?;
        if raw.len() + c.len() > 64 * 1024 {
            return Err(bad("body too large"));
        }
        raw.extend_from_slice(&c);
    }
    let body: Body = serde_json::from_slice(&raw)
        .map_err(|_| bad("body must be {\"image\":\"<host>/<repo>:<tag>\"}"))?;
    let (host, repo, reference) = parse_image(&body.image)
        .ok_or_else(|| bad(format!("invalid image reference {:?}", body.image)))?;
    let src = Source::on_host(&host, &repo)
        .ok_or_else(|| bad(format!("invalid image reference {:?}", body.image)))?;
    let mut up = reg.upstream.repository(&src);
    let done = mirror(
        &reg.store,
        &mut up,
        &repo,
        &reference.to_string(),
        &reference,
        "arm64",
    )
    .await
    .map_err(|e| upstream(format!("{src}: {e}")))?;
    Ok(HttpResponse::Ok().content_type("application/json").body(
        serde_json::json!({
            "status": "ok",
            "manifest": true,
            "blobs": done.blobs_copied,
            "total": done.blobs_total,
        })
        .to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_refs() {
        let (h, r, t) = parse_image("ghcr.io/glennswest/nats:v1").unwrap();
        assert_eq!(
            (h.as_str(), r.as_str(), t),
            ("ghcr.io", "glennswest/nats", Reference::Tag("v1".into()))
        );
        let (h, _, t) = parse_image("127.0.0.1:5000/a").unwrap();
        assert_eq!(
            (h.as_str(), t),
            ("127.0.0.1:5000", Reference::Tag("latest".into()))
        );
        assert!(parse_image("nats:v1").is_none());
        assert!(parse_image("ghcr.io/../x:v1").is_none());
    }
}
