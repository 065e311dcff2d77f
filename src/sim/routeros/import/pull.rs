//! `remote-image=` imports (§5.1 item 8): resolve the manifest for the profile's
//! architecture, download each layer to a scratch file, apply it to root-dir.

use std::fs::File;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::blob::{Throttle, download};
use super::layers::LayerExtractor;
use super::manifest::{self, Fetched, ImageManifest};
use super::reference;
use super::registry::Registry;
use super::scratch::Scratch;
use super::{ImportError, ImportOutcome, PullOptions};

/// Largest manifest body accepted.
const MAX_MANIFEST: usize = 4 * 1024 * 1024;

pub(crate) async fn pull(
    input: &str,
    root: &Path,
    opts: &PullOptions,
) -> Result<ImportOutcome, ImportError> {
    let image = reference::parse(input, &opts.default_registry)?;
    let mut registry = Registry::connect(&image, opts).await?;

    let pinned = image.is_digest().then(|| image.reference.clone());
    let (fetched, mut digest) =
        fetch_manifest(&mut registry, &image.reference, pinned.as_deref()).await?;
    let manifest: ImageManifest = match fetched {
        Fetched::Image(m) => m,
        Fetched::Index(list) => {
            let child = manifest::pick_platform(&list, &opts.arch).ok_or_else(|| {
                ImportError::NotFound(format!("no linux/{} image for {input}", opts.arch))
            })?;
            let child_digest = child.digest.clone();
            let (fetched, d) =
                fetch_manifest(&mut registry, &child_digest, Some(&child_digest)).await?;
            digest = d;
            match fetched {
                Fetched::Image(m) => m,
                Fetched::Index(_) => {
                    return Err(ImportError::Malformed("nested manifest index".into()));
                }
            }
        }
    };

    let mut extractor = LayerExtractor::new(root)?;
    let mut throttle = Throttle::new(opts.bytes_per_sec);
    let mut bytes = 0;
    for layer in &manifest.layers {
        let scratch = Scratch::new("layer");
        bytes += download(
            &mut registry,
            &layer.digest,
            layer.size,
            scratch.path(),
            &mut throttle,
        )
        .await?;
        extractor = tokio::task::spawn_blocking(move || -> Result<LayerExtractor, ImportError> {
            let file = File::open(scratch.path())?;
            extractor.apply(file)?;
            drop(scratch);
            Ok(extractor)
        })
        .await
        .map_err(|e| ImportError::Io(std::io::Error::other(e)))??;
    }
    let layers = tokio::task::spawn_blocking(move || extractor.finish())
        .await
        .map_err(|e| ImportError::Io(std::io::Error::other(e)))??;
    Ok(ImportOutcome {
        bytes,
        layers,
        digest: Some(digest),
    })
}

/// GET a manifest; returns it parsed and its sha256 digest (checked when pinned).
async fn fetch_manifest(
    registry: &mut Registry,
    reference: &str,
    pinned: Option<&str>,
) -> Result<(Fetched, String), ImportError> {
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
        .map_err(|e| ImportError::Registry(format!("manifest download: {e}")))?;
    if body.len() > MAX_MANIFEST {
        return Err(ImportError::Malformed("manifest too large".into()));
    }
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    if let Some(want) = pinned
        && want != digest
    {
        return Err(ImportError::Registry(format!(
            "digest mismatch for manifest {want}"
        )));
    }
    Ok((manifest::parse(&body, content_type.as_deref())?, digest))
}
