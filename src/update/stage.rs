//! Pre-staging for the registry's own swap (images.md §5.5): the registry cannot serve its
//! replacement once it is stopped, so the new image is pulled while the old registry still
//! runs and written as a docker-save tarball into the updater's data directory, which the
//! device sees through the updater's mount. The swap then uses `file=`. The previous tarball is
//! kept as `<container>-prev.tar` for the rollback.
//!
//! The pull and the tarball are the image cache's ([`crate::actors::images::cache::pull`]):
//! digest-pinned, written to a temp file and renamed, sidecar last.

use crate::actors::images::cache::{self, Settings, read_sidecar, sidecar_path};
use crate::actors::images::names::Normaliser;
use crate::config::StorageConfig;
use crate::oci::OciError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// Where tarballs go: a directory here and the same directory as the device names it.
#[derive(Debug, Clone)]
pub struct Stage {
    pub dir: PathBuf,
    pub device_dir: String,
    pub arch: String,
    pub registry_host: String,
    pub ca: Option<Vec<u8>>,
}

/// The staged files, as the device names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    pub tarball: String,
    /// The tarball of the image deployed before, when kept.
    pub previous: Option<String>,
}

impl Stage {
    fn local(&self, container: &str, suffix: &str) -> PathBuf {
        self.dir.join(format!("{container}{suffix}.tar"))
    }

    fn device(&self, container: &str, suffix: &str) -> String {
        format!(
            "{}/{container}{suffix}.tar",
            self.device_dir.trim_end_matches('/')
        )
    }

    /// Pulls `reference` at `digest` into `<container>.tar`. The tarball already there moves
    /// to `<container>-prev.tar` when it holds `deployed` (the digest running now); one that
    /// was staged but never deployed is simply replaced.
    pub async fn stage(
        &self,
        container: &str,
        reference: &str,
        digest: &str,
        deployed: Option<&str>,
    ) -> Result<Staged, OciError> {
        std::fs::create_dir_all(&self.dir)?;
        let current = self.local(container, "");
        let prev = self.local(container, "-prev");
        if let Some(side) = read_sidecar(&current)
            && side.digest == digest
            && cache::valid_tarball(&current, &side).is_some()
        {
            tracing::info!(container, digest, "tarball already staged");
        } else {
            let settings = Settings {
                arch: self.arch.clone(),
                cache_dir: self.dir.clone(),
                storage: StorageConfig::default(),
                normaliser: Normaliser::new(std::slice::from_ref(&self.registry_host)),
                local_ca: self.ca.clone(),
                metrics: None,
            };
            let (pulled, _) =
                cache::pull(&settings, reference, digest, &Arc::new(AtomicU64::new(0))).await?;
            let holds_deployed =
                read_sidecar(&current).is_some_and(|s| Some(s.digest.as_str()) == deployed);
            if holds_deployed {
                move_with_sidecar(&current, &prev)?;
            }
            move_with_sidecar(&pulled, &current)?;
        }
        Ok(Staged {
            tarball: self.device(container, ""),
            previous: prev.exists().then(|| self.device(container, "-prev")),
        })
    }
}

/// Renames a tarball and its sidecar (sidecar removed first, written back last).
fn move_with_sidecar(from: &Path, to: &Path) -> std::io::Result<()> {
    let side_from = sidecar_path(from);
    let side = std::fs::read(&side_from).ok();
    let _ = std::fs::remove_file(sidecar_path(to));
    let _ = std::fs::remove_file(&side_from);
    std::fs::rename(from, to)?;
    if let Some(bytes) = side {
        super::record::write_atomic(&sidecar_path(to), &bytes)?;
    }
    Ok(())
}
