//! Manifests (spec images.md §2.3): `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<ref>`.
//! A PUT is bounded in size, must be JSON of a known media type whose blobs (for an image
//! manifest) are already stored, and is committed then announced through the push hook.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;

use super::reply::{CONTENT_DIGEST, Reply, head_body};
use crate::oci::manifest::{DOCKER_MANIFEST, OCI_MANIFEST, is_manifest_type};
use crate::registry::error::{OciError, digest_invalid, manifest_unknown, unsupported};
use crate::registry::names::{Digest, Reference};
use crate::registry::state::Registry;
use crate::registry::store::blocking;

/// Manifest bodies above this are refused with 413 (spec: limit ≥ 4 MiB).
pub const MANIFEST_LIMIT: usize = 4 * 1024 * 1024;

fn resolve(reg: &Registry, name: &str, r: &Reference) -> Option<(Digest, String)> {
    let d = match r {
        Reference::Tag(t) => reg.store.read_tag(name, t)?,
        Reference::Digest(d) => d.clone(),
    };
    let media = reg.store.read_revision(name, &d)?;
    Some((d, media))
}

pub async fn get_manifest(reg: &Registry, name: &str, r: &Reference, head: bool) -> Reply {
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
        return Ok(b.body(head_body(len)));
    }
    Ok(b.body(body))
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

pub async fn put_manifest(
    reg: &Registry,
    req: &HttpRequest,
    payload: web::Payload,
    name: &str,
    r: &Reference,
) -> Reply {
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
    let media = if is_manifest_type(&ct) {
        ct
    } else {
        match obj.get("mediaType").and_then(|m| m.as_str()) {
            Some(m) if is_manifest_type(m) => m.to_string(),
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
    reg.store.commit_manifest(name, r, body, media).await?;
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

pub async fn delete_manifest(reg: &Registry, name: &str, r: &Reference) -> Reply {
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
