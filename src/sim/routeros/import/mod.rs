//! Image import for the RouterOS simulator (spec routeros-rest.md §3.1 `file=`,
//! §3.3, §3.4, §5.1 items 7–8, §5.2 pull bandwidth): docker-save archives given as
//! `file=` and registry pulls given as `remote-image=`, both really extracted into
//! the container's root-dir with OCI whiteouts applied.
//!
//! One job per file:
//! - [`archive`]: read a docker-save archive (index entries, manifest.json, layers).
//! - [`layers`]: apply one layer tar to root-dir (whiteouts, links, modes).
//! - [`safe_path`]: resolve entry paths without ever leaving root-dir.
//! - [`compression`]: sniff gzip / zstd / plain streams.
//! - [`scratch`]: self-deleting temporary files.
//! - [`pull`]: the pull sequence, through the OCI client in [`crate::oci`].

mod archive;
mod compression;
mod layers;
mod pull;
pub(super) mod safe_path;
mod scratch;

use std::path::Path;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// Size of the layer data read: the layer entries' sizes in the archive for
    /// `file=`, the downloaded (usually compressed) blob sizes for pulls.
    pub bytes: u64,
    /// Number of layers applied.
    pub layers: usize,
    /// For pulls: digest of the platform image manifest whose layers were extracted.
    pub digest: Option<String>,
    /// The image's config JSON (entrypoint, cmd, env, …): always for `file=`, for pulls only
    /// with [`PullOptions::fetch_config`].
    pub config: Option<Vec<u8>>,
}

/// Why an import failed: the OCI client's error (its `Display` texts are short and
/// device-like; the simulator puts them into its `container,error` log line).
pub use crate::oci::OciError as ImportError;

/// Settings for [`pull_remote_image`].
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Image architecture to pick from an index (the profile's, `arm64` default).
    pub arch: String,
    /// `false` accepts any TLS certificate; `true` needs a CA from `extra_roots`.
    pub check_certificate: bool,
    /// `/container/config registry-url`, used when the reference names no registry.
    pub default_registry: String,
    /// PEM CA certificates trusted when `check_certificate` is true.
    pub extra_roots: Vec<Vec<u8>>,
    /// Pull bandwidth cap (§5.2), `None` = unlimited.
    pub bytes_per_sec: Option<u64>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Also download the image config (process containers need its entrypoint and cmd).
    pub fetch_config: bool,
}

impl PullOptions {
    fn client_options(&self) -> crate::oci::ClientOptions {
        crate::oci::ClientOptions {
            arch: self.arch.clone(),
            check_certificate: self.check_certificate,
            extra_roots: self.extra_roots.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            ..crate::oci::ClientOptions::default()
        }
    }
}

impl Default for PullOptions {
    fn default() -> Self {
        Self {
            arch: "arm64".into(),
            check_certificate: true,
            default_registry: "https://registry-1.docker.io".into(),
            extra_roots: Vec::new(),
            bytes_per_sec: None,
            username: None,
            password: None,
            fetch_config: false,
        }
    }
}

/// Extract a docker-save archive (plain tar or .tar.gz; `manifest.json` with
/// Config/Layers, legacy `<id>/layer.tar` layout, layers themselves plain or gzip)
/// found at `archive` into `root_dir`, layers applied in manifest order, with OCI
/// whiteouts: `.wh.<name>` deletes `<name>` from lower layers, `.wh..wh..opq`
/// empties the directory from lower layers. Entries with `..` or absolute paths
/// fail the import; entries whose parent resolves (through symlinks) outside
/// `root_dir` are skipped. Device nodes and ownership are skipped; symlinks and
/// hard links inside root are created. Blocking: call from `spawn_blocking`.
pub fn extract_docker_archive(
    archive: &Path,
    root_dir: &Path,
) -> Result<ImportOutcome, ImportError> {
    archive::extract(archive, root_dir)
}

/// Pull `reference` (`host:port/repo:tag`, `host/repo@sha256:…`) over the OCI
/// distribution protocol and extract its layers into `root_dir` (same rules as
/// [`extract_docker_archive`]). HTTPS first, plain HTTP when the registry speaks
/// it; Basic and Bearer-token auth; Docker v2 / OCI manifests and indexes, picking
/// `linux/<arch>`; every blob's sha256 verified while it streams to a temp file.
pub async fn pull_remote_image(
    reference: &str,
    root_dir: &Path,
    opts: &PullOptions,
) -> Result<ImportOutcome, ImportError> {
    pull::pull(reference, root_dir, opts).await
}
