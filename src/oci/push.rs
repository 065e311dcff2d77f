//! The push side of the client: blobs and manifests into a registry (distribution spec end-4a,
//! end-6, end-7), and copying one platform image from one registry to another. Blobs stream
//! from the source straight into the destination's upload (the destination checks each digest);
//! blobs the destination already holds are skipped.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};

use super::error::OciError;
use super::manifest::{self, Descriptor, Fetched};
use super::registry::{Registry, transport_error};
use super::{RawManifest, fetch_manifest_raw};

/// What [`copy_image`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// Digest of the manifest stored under the destination tag.
    pub digest: String,
    /// Blobs uploaded (the others were already there).
    pub blobs_uploaded: usize,
    pub blobs_total: usize,
}

impl Registry {
    /// Whether the repository holds blob `digest` (`HEAD`).
    pub async fn has_blob(&mut self, digest: &str) -> Result<bool, OciError> {
        match self.head("blobs", digest, None).await {
            Ok(_) => Ok(true),
            Err(OciError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Uploads one blob: `POST …/blobs/uploads/`, then `PUT <location>?digest=` with the
    /// whole body (monolithic, in two requests, which every registry accepts).
    pub async fn upload_blob(
        &self,
        digest: &str,
        size: u64,
        body: reqwest::Body,
    ) -> Result<(), OciError> {
        let start = format!("{}/v2/{}/blobs/uploads/", self.base, self.repo);
        let resp = self.authorised(self.http.post(&start)).send().await;
        let resp = resp.map_err(|e| transport_error(&self.base, &e))?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.refused("upload start", resp.status()));
        }
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                OciError::Registry(format!("{}: upload without Location", self.host()))
            })?;
        let mut url = if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            format!("{}{location}", self.base)
        };
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("digest={digest}"));
        let req = self
            .http
            .put(&url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, size)
            .body(body);
        let resp = self.authorised(req).send().await;
        let resp = resp.map_err(|e| transport_error(&self.base, &e))?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.refused(&format!("blob {digest}"), resp.status()));
        }
        Ok(())
    }

    /// `PUT …/manifests/<reference>` with the exact bytes and media type.
    pub async fn put_manifest(
        &self,
        reference: &str,
        manifest: &RawManifest,
    ) -> Result<(), OciError> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base, self.repo);
        let req = self
            .http
            .put(&url)
            .header(CONTENT_TYPE, &manifest.media_type)
            .body(manifest.bytes.clone());
        let resp = self.authorised(req).send().await;
        let resp = resp.map_err(|e| transport_error(&self.base, &e))?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.refused(&format!("manifest {reference}"), resp.status()));
        }
        Ok(())
    }

    fn authorised(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Some(a) => req.header(reqwest::header::AUTHORIZATION, a),
            None => req,
        }
    }

    fn refused(&self, what: &str, status: StatusCode) -> OciError {
        OciError::Registry(format!("{} answered {status} for {what}", self.host()))
    }

    /// Streams blob `d` from this registry into `dst`.
    async fn send_blob(&mut self, d: &Descriptor, dst: &Registry) -> Result<(), OciError> {
        let resp = self.get("blobs", &d.digest, None).await?;
        let body = reqwest::Body::wrap_stream(resp.bytes_stream());
        dst.upload_blob(&d.digest, d.size, body).await
    }
}

/// The single-platform manifest `reference` stands for on `linux/<arch>`, as raw bytes: an
/// index is followed to its matching child.
pub async fn platform_manifest(
    src: &mut Registry,
    reference: &str,
    arch: &str,
) -> Result<RawManifest, OciError> {
    let top = fetch_manifest_raw(src, reference, None).await?;
    match manifest::parse(&top.bytes, Some(&top.media_type))? {
        Fetched::Image(_) => Ok(top),
        Fetched::Index(list) => {
            let child = manifest::pick_platform(&list, arch).ok_or_else(|| {
                OciError::NotFound(format!("no linux/{arch} image for {reference}"))
            })?;
            let digest = child.digest.clone();
            fetch_manifest_raw(src, &digest, None).await
        }
    }
}

/// Copies the `linux/<arch>` image `reference` of `src` into `dst` under `tag`: config and
/// layers first (skipping blobs `dst` holds), then the manifest.
pub async fn copy_image(
    src: &mut Registry,
    reference: &str,
    dst: &mut Registry,
    tag: &str,
    arch: &str,
) -> Result<Copied, OciError> {
    let raw = platform_manifest(src, reference, arch).await?;
    let Fetched::Image(image) = manifest::parse(&raw.bytes, Some(&raw.media_type))? else {
        return Err(OciError::Malformed("nested manifest index".into()));
    };
    let blobs: Vec<&Descriptor> = std::iter::once(&image.config)
        .chain(image.layers.iter())
        .collect();
    let mut uploaded = 0;
    for d in &blobs {
        if !dst.has_blob(&d.digest).await? {
            src.send_blob(d, dst).await?;
            uploaded += 1;
        }
    }
    dst.put_manifest(tag, &raw).await?;
    Ok(Copied {
        digest: raw.digest,
        blobs_uploaded: uploaded,
        blobs_total: blobs.len(),
    })
}
