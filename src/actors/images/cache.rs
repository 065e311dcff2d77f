//! The image cache's effects (images.md §3.3–§3.6): digest lookups and pulls through
//! [`crate::oci`], tarball and sidecar files. Runs in the images actor's handlers, never in
//! `apply`; returns what happened so the actor can record it.

use super::names::{self, Normaliser};
use super::tarball;
use crate::config::{Config, StorageConfig};
use crate::metrics::Metrics;
use crate::oci::{self, ClientOptions, OciError, Registry};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Digest lookups give up after this long (§3.3).
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(15);
/// A pull request gives up after this long (§3.3).
pub const PULL_TIMEOUT: Duration = Duration::from_secs(120);

/// Everything the cache needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Platform pulled: `linux/<arch>` (arm64: the devices mkube runs on).
    pub arch: String,
    pub cache_dir: PathBuf,
    pub storage: StorageConfig,
    pub normaliser: Normaliser,
    /// PEM of `registry.tlsCACertFile`, when readable.
    pub local_ca: Option<Vec<u8>>,
    /// Counts pulls and times tarball builds (`/metrics`).
    pub metrics: Option<Metrics>,
}

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        let ca_file = if config.registry.tls_ca_cert_file.is_empty() {
            "/etc/mkube/registry-ca.crt"
        } else {
            config.registry.tls_ca_cert_file.as_str()
        };
        Settings {
            arch: "arm64".into(),
            cache_dir: PathBuf::from(&config.storage.tarball_cache),
            storage: config.storage.clone(),
            normaliser: Normaliser::new(&config.registry.local_addresses),
            local_ca: std::fs::read(ca_file).ok(),
            metrics: None,
        }
    }

    /// `<tarballCache>/<slug>.tar` for a normalised reference (NAME-7).
    pub fn tarball_path(&self, reference: &str) -> PathBuf {
        self.cache_dir
            .join(format!("{}.tar", names::slug(reference)))
    }

    /// What RouterOS is handed (NAME-8).
    pub fn host_path(&self, path: &Path) -> String {
        names::host_visible(&path.to_string_lossy(), &self.storage)
    }

    fn client(&self, reference: &str, timeout: Duration) -> ClientOptions {
        let local = self.normaliser.is_local(reference);
        ClientOptions {
            arch: self.arch.clone(),
            check_certificate: true,
            extra_roots: if local {
                self.local_ca.iter().cloned().collect()
            } else {
                Vec::new()
            },
            allow_plain_http: local,
            request_timeout: Some(timeout),
            max_idle_per_host: 4,
            ..ClientOptions::default()
        }
    }
}

/// `<tarball>.digest`: the digest, then the tarball size, one per line.
pub fn sidecar_path(tarball: &Path) -> PathBuf {
    let mut s = tarball.as_os_str().to_owned();
    s.push(".digest");
    PathBuf::from(s)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecar {
    pub digest: String,
    pub size: Option<u64>,
}

pub fn read_sidecar(tarball: &Path) -> Option<Sidecar> {
    let text = std::fs::read_to_string(sidecar_path(tarball)).ok()?;
    let mut lines = text.lines();
    let digest = lines.next()?.trim().to_string();
    if digest.is_empty() {
        return None;
    }
    let size = lines.next().and_then(|l| l.trim().parse().ok());
    Some(Sidecar { digest, size })
}

/// The tarball exists and has the size the sidecar records; returns that size.
pub fn valid_tarball(tarball: &Path, sidecar: &Sidecar) -> Option<u64> {
    let len = std::fs::metadata(tarball).ok()?.len();
    match sidecar.size {
        Some(size) if size != len => None,
        _ => Some(len),
    }
}

/// The registry digest of `reference` for `linux/<arch>` (§3.3).
pub async fn resolve(settings: &Settings, reference: &str) -> Result<String, OciError> {
    let opts = settings.client(reference, LOOKUP_TIMEOUT);
    let work = async {
        let image = oci::reference::parse(reference, "")?;
        let mut registry = Registry::connect(&image, &opts).await?;
        let (_, digest) =
            oci::resolve_platform(&mut registry, &image.reference, &opts.arch).await?;
        Ok(digest)
    };
    tokio::time::timeout(LOOKUP_TIMEOUT, work)
        .await
        .map_err(|_| OciError::Registry(format!("digest lookup for {reference} timed out")))?
}

/// Pulls `reference` by `digest` and writes `<slug>.tar` then its sidecar (temp + rename,
/// sidecar last). Returns the tarball path and size. The previous tarball stays in place until
/// the new one replaces it.
pub async fn pull(
    settings: &Settings,
    reference: &str,
    digest: &str,
    pulls: &Arc<AtomicU64>,
) -> Result<(PathBuf, u64), OciError> {
    pulls.fetch_add(1, Ordering::Relaxed);
    let work_dir = settings
        .cache_dir
        .join(format!(".work-{}", uuid::Uuid::new_v4()));
    tokio::fs::create_dir_all(&work_dir).await?;
    // Each request of the pull is bounded by PULL_TIMEOUT (the client's request timeout); the
    // whole is not, so a tarball build is never abandoned half-written.
    let result = pull_into(settings, reference, digest, &work_dir).await;
    let _ = tokio::fs::remove_dir_all(&work_dir).await;
    if let Some(m) = &settings.metrics {
        m.count_image_pull(if result.is_ok() { "ok" } else { "error" });
    }
    result
}

async fn pull_into(
    settings: &Settings,
    reference: &str,
    digest: &str,
    work_dir: &Path,
) -> Result<(PathBuf, u64), OciError> {
    let opts = settings.client(reference, PULL_TIMEOUT);
    let image = oci::reference::parse(reference, "")?;
    let mut registry = Registry::connect(&image, &opts).await?;
    let (manifest, got) = oci::resolve_platform(&mut registry, digest, &opts.arch).await?;
    if got != digest {
        return Err(OciError::Registry(format!(
            "{reference}: asked for {digest}, got {got}"
        )));
    }
    let config = oci::fetch_small_blob(&mut registry, &manifest.config.digest).await?;
    let mut throttle = oci::Throttle::new(None);
    let mut layers = Vec::new();
    for (i, layer) in manifest.layers.iter().enumerate() {
        let dest = work_dir.join(format!("layer-{i}"));
        oci::download(
            &mut registry,
            &layer.digest,
            layer.size,
            &dest,
            &mut throttle,
        )
        .await?;
        layers.push(dest);
    }

    let tarball = settings.tarball_path(reference);
    let tmp = settings.cache_dir.join(format!(
        ".{}.tmp-{}",
        names::slug(reference),
        uuid::Uuid::new_v4()
    ));
    let parts = oci::reference::split(reference);
    let (repo, tag) = match parts.tag_unless_pinned() {
        Some(tag) => (parts.path().to_string(), tag.to_string()),
        None => ("mkube".to_string(), "latest".to_string()),
    };
    let arch = oci::manifest::normalise_arch(&settings.arch).to_string();
    let (work, tmp2) = (work_dir.to_path_buf(), tmp.clone());
    let build_started = std::time::Instant::now();
    let built = tokio::task::spawn_blocking(move || {
        tarball::build(
            &tarball::Source {
                layers: &layers,
                config: &config,
                repo: &repo,
                tag: &tag,
                arch: &arch,
            },
            &work,
            &tmp2,
        )
    })
    .await
    .map_err(|e| OciError::Io(std::io::Error::other(e)))
    .and_then(|b| b.map_err(OciError::from));
    if let Some(m) = &settings.metrics {
        let outcome = if built.is_ok() { "ok" } else { "error" };
        m.observe_tarball_build(outcome, build_started.elapsed());
    }
    let built = match built {
        Ok(b) => b,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
    };
    // The old sidecar goes first: no sidecar ever names bytes it did not describe.
    let sidecar = sidecar_path(&tarball);
    let _ = tokio::fs::remove_file(&sidecar).await;
    tokio::fs::rename(&tmp, &tarball).await?;
    let sidecar_tmp = settings.cache_dir.join(format!(
        ".{}.digest.tmp-{}",
        names::slug(reference),
        uuid::Uuid::new_v4()
    ));
    write_synced(
        &sidecar_tmp,
        format!("{digest}\n{}\n", built.size).as_bytes(),
    )
    .await?;
    tokio::fs::rename(&sidecar_tmp, &sidecar).await?;
    sync_dir(&settings.cache_dir).await;
    Ok((tarball, built.size))
}

async fn write_synced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut f = tokio::fs::File::create(path).await?;
    f.write_all(data).await?;
    f.sync_all().await
}

async fn sync_dir(dir: &Path) {
    if let Ok(d) = tokio::fs::File::open(dir).await {
        let _ = d.sync_all().await;
    }
}

/// Deletes a reference's tarball and sidecar (sidecar first); true if anything was there.
pub async fn remove_files(settings: &Settings, reference: &str) -> bool {
    let tarball = settings.tarball_path(reference);
    let a = tokio::fs::remove_file(sidecar_path(&tarball)).await.is_ok();
    let b = tokio::fs::remove_file(&tarball).await.is_ok();
    a || b
}
