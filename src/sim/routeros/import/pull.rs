//! `remote-image=` imports (§5.1 item 8): resolve the manifest for the profile's
//! architecture through [`crate::oci`], download each layer to a scratch file, apply it
//! to root-dir.

use std::fs::File;
use std::path::Path;

use super::layers::LayerExtractor;
use super::scratch::Scratch;
use super::{ImportError, ImportOutcome, PullOptions};
use crate::oci::{self, Registry, Throttle, download};

pub(crate) async fn pull(
    input: &str,
    root: &Path,
    opts: &PullOptions,
) -> Result<ImportOutcome, ImportError> {
    let image = oci::reference::parse(input, &opts.default_registry)?;
    let client = opts.client_options();
    let mut registry = Registry::connect(&image, &client).await?;
    let (manifest, digest) = oci::resolve_platform(&mut registry, &image.reference, &opts.arch)
        .await
        .map_err(|e| match e {
            oci::OciError::NotFound(m) if m.starts_with("no linux/") => {
                ImportError::NotFound(format!("no linux/{} image for {input}", opts.arch))
            }
            other => other,
        })?;

    let config = if opts.fetch_config {
        Some(oci::fetch_small_blob(&mut registry, &manifest.config.digest).await?)
    } else {
        None
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
        config,
    })
}
