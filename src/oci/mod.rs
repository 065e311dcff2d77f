//! An OCI distribution client (pull side): image references, `WWW-Authenticate` challenges and
//! the Basic/Bearer token flow, registry HTTP(S) with scheme detection, manifests and indexes with
//! `linux/<arch>` selection, and streamed, digest-verified blob downloads.
//!
//! A client room: it speaks to registries and knows nothing about events or actors. Used by the
//! images actor (the image cache) and by the RouterOS simulator's `remote-image=` importer.
//!
//! - [`error`]: why an operation failed; [`options`]: how to talk to a registry (TLS, timeouts).
//! - [`reference`]: image references, split and parsed (the one place that takes them apart).
//! - [`challenge`]: parse `WWW-Authenticate` headers.
//! - [`registry`]: HTTP(S) transport to one repository with Basic/Bearer auth.
//! - [`manifest`]: manifests, indexes and platform selection.
//! - [`blob`]: verified, optionally throttled blob downloads to disk.
//! - [`push`]: blob uploads, manifest puts, and copying an image between registries.

pub mod blob;
pub mod challenge;
pub mod error;
pub mod manifest;
pub mod options;
pub mod push;
pub mod reference;
pub mod registry;

use sha2::{Digest, Sha256};

pub use blob::{Throttle, download};
pub use error::OciError;
pub use manifest::{Descriptor, Fetched, ImageManifest, Platform};
pub use options::{ClientOptions, tls_config};
pub use push::{Copied, copy_image, platform_manifest};
pub use reference::Reference;
pub use registry::Registry;

/// Largest manifest (or image config) body accepted.
pub const MAX_MANIFEST: usize = 4 * 1024 * 1024;

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// GET a manifest; returns it parsed and its sha256 digest (checked when `pinned`).
pub async fn fetch_manifest(
    registry: &mut Registry,
    reference: &str,
    pinned: Option<&str>,
) -> Result<(Fetched, String), OciError> {
    let resp = registry
        .get("manifests", reference, Some(&manifest::accept_header()))
        .await?;
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp
        .bytes()
        .await
        .map_err(|e| OciError::Registry(format!("manifest download: {e}")))?;
    if body.len() > MAX_MANIFEST {
        return Err(OciError::Malformed("manifest too large".into()));
    }
    let digest = sha256_digest(&body);
    if let Some(want) = pinned
        && want != digest
    {
        return Err(OciError::Registry(format!(
            "digest mismatch for manifest {want}"
        )));
    }
    Ok((manifest::parse(&body, content_type.as_deref())?, digest))
}

/// A manifest exactly as the registry sent it.
#[derive(Debug, Clone)]
pub struct RawManifest {
    pub bytes: Vec<u8>,
    /// One of the four manifest media types (`Content-Type`, else the body's `mediaType`).
    pub media_type: String,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
}

/// True for `application/json…` and any `…+json` type.
pub fn is_json_type(content_type: &str) -> bool {
    let t = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    t.starts_with("application/json") || t.ends_with("+json")
}

/// GET a manifest and keep its bytes, for copying it elsewhere. Refuses what is not a JSON
/// manifest (a login page, an error page: images.md §2.7), a body over [`MAX_MANIFEST`], and a
/// body that does not hash to `reference` when that is a digest.
pub async fn fetch_manifest_raw(
    registry: &mut Registry,
    reference: &str,
    accept: Option<&str>,
) -> Result<RawManifest, OciError> {
    let default_accept = manifest::accept_header();
    let resp = registry
        .get(
            "manifests",
            reference,
            Some(accept.unwrap_or(&default_accept)),
        )
        .await?;
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if !is_json_type(&content_type) {
        return Err(OciError::Malformed(format!(
            "manifest {reference} answered with content type {content_type:?}"
        )));
    }
    let bytes = read_limited(resp, MAX_MANIFEST).await?;
    if !matches!(bytes.first(), Some(b'{' | b'[')) {
        return Err(OciError::Malformed(format!(
            "manifest {reference} is not JSON"
        )));
    }
    let json: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| OciError::Malformed(format!("manifest {reference} is not JSON")))?;
    let ct = content_type.split(';').next().unwrap_or("").trim();
    let media_type = if manifest::is_manifest_type(ct) {
        ct.to_string()
    } else {
        json.get("mediaType")
            .and_then(|m| m.as_str())
            .filter(|m| manifest::is_manifest_type(m))
            .ok_or_else(|| {
                OciError::Unsupported(format!("manifest {reference} of unknown media type"))
            })?
            .to_string()
    };
    let digest = sha256_digest(&bytes);
    if reference::is_sha256(reference) && digest != reference {
        return Err(OciError::Registry(format!(
            "digest mismatch for manifest {reference}"
        )));
    }
    Ok(RawManifest {
        bytes,
        media_type,
        digest,
    })
}

/// The manifest digest `reference` points at now, from a HEAD (`Docker-Content-Digest`); a
/// registry that leaves the header out costs a GET.
pub async fn manifest_digest(registry: &mut Registry, reference: &str) -> Result<String, OciError> {
    let resp = registry
        .head("manifests", reference, Some(&manifest::accept_header()))
        .await?;
    let header = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|d| reference::is_sha256(d))
        .map(str::to_string);
    match header {
        Some(d) => Ok(d),
        None => Ok(fetch_manifest_raw(registry, reference, None).await?.digest),
    }
}

/// Reads a whole body, refusing more than `limit` bytes.
async fn read_limited(resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, OciError> {
    use futures::StreamExt;
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| OciError::Registry(format!("manifest download: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(OciError::Malformed("manifest too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The single-platform manifest `reference` (tag or digest) stands for on `linux/<arch>`, and
/// its digest: an index is followed to its matching child (images.md §3.3 "registry digest").
pub async fn resolve_platform(
    registry: &mut Registry,
    reference: &str,
    arch: &str,
) -> Result<(ImageManifest, String), OciError> {
    let pinned = reference::is_sha256(reference).then_some(reference);
    let (fetched, digest) = fetch_manifest(registry, reference, pinned).await?;
    match fetched {
        Fetched::Image(m) => Ok((m, digest)),
        Fetched::Index(list) => {
            let child = manifest::pick_platform(&list, arch).ok_or_else(|| {
                OciError::NotFound(format!("no linux/{arch} image for {reference}"))
            })?;
            let child_digest = child.digest.clone();
            let (fetched, d) = fetch_manifest(registry, &child_digest, Some(&child_digest)).await?;
            match fetched {
                Fetched::Image(m) => Ok((m, d)),
                Fetched::Index(_) => Err(OciError::Malformed("nested manifest index".into())),
            }
        }
    }
}

/// A small blob (an image config) into memory, digest-verified, at most [`MAX_MANIFEST`] bytes.
pub async fn fetch_small_blob(registry: &mut Registry, digest: &str) -> Result<Vec<u8>, OciError> {
    let resp = registry.get("blobs", digest, None).await?;
    let body = resp
        .bytes()
        .await
        .map_err(|e| OciError::Registry(format!("blob {digest} download: {e}")))?;
    if body.len() > MAX_MANIFEST {
        return Err(OciError::Malformed(format!("blob {digest} too large")));
    }
    if sha256_digest(&body) != digest {
        return Err(OciError::Registry(format!(
            "digest mismatch for blob {digest}"
        )));
    }
    Ok(body.to_vec())
}
