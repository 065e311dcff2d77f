//! The registry's side of talking to upstream registries (spec images.md §2.7): one shared
//! client on top of [`crate::oci`] (token flow, JSON-only manifests, digest-verified blobs)
//! and the copy of one blob into the store.
//!
//! The client trusts the built-in webpki roots (the scratch image has no CA bundle), speaks
//! plain HTTP only to loopback hosts (tests), waits at most 30 s to connect and 30 s between
//! two reads, and keeps a small idle pool per host. A whole-request limit of 30 s would kill
//! every large layer, so the 30 s apply to silence, not to the transfer.

use std::time::Duration;

use crate::oci::{self, ClientOptions, Fetched, OciError};

use super::config::{RegistryConfig, WatchImage};
use super::names::{Digest, Reference};
use super::store::{Store, blocking};

/// Pull-through and watcher settings (the `pullThrough`, `upstreamRegistries`, `watchImages`
/// and `watchPollSeconds` keys of §2.1).
#[derive(Clone, Debug)]
pub struct UpstreamOptions {
    pub pull_through: bool,
    /// Hosts tried in order (after the `watch` mappings), e.g. `ghcr.io`, `docker.io`.
    pub registries: Vec<String>,
    pub watch: Vec<WatchImage>,
    pub poll_interval: Duration,
    /// How long a tag fetched by pull-through is served before it is re-resolved.
    pub tag_ttl: Duration,
    /// Architecture the watcher keeps from an index (`linux/<arch>`).
    pub arch: String,
}

impl Default for UpstreamOptions {
    fn default() -> Self {
        UpstreamOptions {
            pull_through: false,
            registries: Vec::new(),
            watch: Vec::new(),
            poll_interval: Duration::from_secs(120),
            tag_ttl: Duration::from_secs(600),
            arch: "arm64".into(),
        }
    }
}

impl UpstreamOptions {
    pub fn from_config(c: &RegistryConfig) -> UpstreamOptions {
        UpstreamOptions {
            pull_through: c.pull_through,
            registries: c.upstream_registries.clone(),
            watch: c.watch_images.clone(),
            poll_interval: Duration::from_secs(c.watch_poll_seconds),
            ..UpstreamOptions::default()
        }
    }
}

/// One repository on one upstream registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// `host[:port]` serving the API (Docker Hub short names already mapped).
    pub host: String,
    /// `http`/`https` when spelled out in the configuration.
    pub scheme: Option<String>,
    pub repo: String,
}

impl Source {
    /// `entry` is an `upstreamRegistries` item (`ghcr.io`, `https://ghcr.io`,
    /// `http://127.0.0.1:5000`); `None` when it names no host.
    pub fn on_host(entry: &str, repo: &str) -> Option<Source> {
        let entry = entry.trim().trim_end_matches('/');
        let (scheme, host) = match entry.split_once("://") {
            Some((s, h)) if s == "http" || s == "https" => (Some(s.to_string()), h),
            Some(_) => return None,
            None => (None, entry),
        };
        if host.is_empty() || host.contains('/') {
            return None;
        }
        let host = oci::reference::api_host(host).to_string();
        let repo = oci::reference::api_repo(&host, repo);
        Some(Source { host, scheme, repo })
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.host, self.repo)
    }
}

fn is_loopback(host: &str) -> bool {
    let h = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let h = h.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The shared upstream client.
pub struct Upstream {
    http: reqwest::Client,
    opts: ClientOptions,
}

impl Upstream {
    pub fn new() -> Result<Upstream, OciError> {
        let opts = ClientOptions {
            check_certificate: true,
            builtin_roots: true,
            allow_plain_http: false,
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(30),
            request_timeout: None,
            max_idle_per_host: 4,
            ..ClientOptions::default()
        };
        let http = oci::Registry::http_client(&opts)?;
        Ok(Upstream { http, opts })
    }

    /// A handle on `src` (keeps its bearer token for the calls made through it).
    pub fn repository(&self, src: &Source) -> oci::Registry {
        let scheme = src.scheme.clone().unwrap_or_else(|| {
            if is_loopback(&src.host) {
                "http".into()
            } else {
                "https".into()
            }
        });
        let image = oci::Reference {
            host: src.host.clone(),
            scheme: Some(scheme),
            repo: src.repo.clone(),
            reference: String::new(),
        };
        oci::Registry::with_client(self.http.clone(), &image, &self.opts)
    }
}

/// Copies blob `d` from `repo` into the store unless it is there already; true when copied.
/// The body goes to `tmp/`, is verified against `d` while it streams, fsynced and only then
/// renamed into place: a dropped connection or a wrong body leaves nothing behind.
pub async fn copy_blob(
    store: &Store,
    repo: &mut oci::Registry,
    d: &Digest,
) -> Result<bool, OciError> {
    if store.blob_size(d).is_some() {
        return Ok(false);
    }
    let tmp = store.tmp_path();
    let mut throttle = oci::Throttle::new(None);
    let fetched = oci::download(repo, &d.to_string(), 0, &tmp, &mut throttle).await;
    let committed = match fetched {
        Ok(_) => {
            let t2 = tmp.clone();
            let synced = blocking(move || {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&t2)?
                    .sync_all()
            })
            .await;
            match synced {
                Ok(()) => store.commit_blob(&tmp, d).await.map_err(OciError::from),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e),
    };
    if committed.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    committed.map(|()| true)
}

/// Copies the config and layers of `m` (skipping those already stored); returns how many
/// were copied.
pub async fn copy_image_blobs(
    store: &Store,
    repo: &mut oci::Registry,
    m: &oci::ImageManifest,
) -> Result<usize, OciError> {
    let mut copied = 0;
    for desc in std::iter::once(&m.config).chain(m.layers.iter()) {
        let d = Digest::parse(&desc.digest)
            .ok_or_else(|| OciError::Malformed(format!("bad digest {}", desc.digest)))?;
        if copy_blob(store, repo, &d).await? {
            copied += 1;
        }
    }
    Ok(copied)
}

/// What [`mirror`] stored.
#[derive(Debug, Clone)]
pub struct Mirrored {
    /// Digest of the manifest stored under the reference (the index for an index).
    pub digest: Digest,
    pub blobs_copied: usize,
    pub blobs_total: usize,
}

/// Copies manifest `fetch` (tag or digest) of `repo` into repository `local` as `store_as`:
/// an index with its `linux/<arch>` child (else its first entry, with a warning), the child
/// stored by digest; for a single manifest its config and layers. Blobs first, manifests
/// last, so nothing points at content that is not there. Images RouterOS cannot use (zstd or
/// foreign layers) are refused by [`oci::manifest::parse`].
pub async fn mirror(
    store: &Store,
    repo: &mut oci::Registry,
    local: &str,
    fetch: &str,
    store_as: &Reference,
    arch: &str,
) -> Result<Mirrored, OciError> {
    let top = oci::fetch_manifest_raw(repo, fetch, None).await?;
    let mut out = Mirrored {
        digest: Digest::parse(&top.digest)
            .ok_or_else(|| OciError::Malformed(format!("bad digest {}", top.digest)))?,
        blobs_copied: 0,
        blobs_total: 0,
    };
    match oci::manifest::parse(&top.bytes, Some(&top.media_type))? {
        Fetched::Image(m) => {
            out.blobs_total = 1 + m.layers.len();
            out.blobs_copied = copy_image_blobs(store, repo, &m).await?;
        }
        Fetched::Index(list) => {
            let child = match oci::manifest::pick_platform(&list, arch) {
                Some(c) => c,
                None => {
                    let first = list
                        .first()
                        .ok_or_else(|| OciError::Malformed("empty index".into()))?;
                    tracing::warn!(repo = local, reference = fetch, arch, child = %first.digest, "index has no entry for the architecture; mirroring its first one");
                    first
                }
            };
            let cd = Digest::parse(&child.digest)
                .ok_or_else(|| OciError::Malformed(format!("bad digest {}", child.digest)))?;
            let raw = oci::fetch_manifest_raw(repo, &child.digest, None).await?;
            let Fetched::Image(m) = oci::manifest::parse(&raw.bytes, Some(&raw.media_type))? else {
                return Err(OciError::Malformed("nested manifest index".into()));
            };
            out.blobs_total = 1 + m.layers.len();
            out.blobs_copied = copy_image_blobs(store, repo, &m).await?;
            store
                .commit_manifest(local, &Reference::Digest(cd), raw.bytes, raw.media_type)
                .await?;
        }
    }
    store
        .commit_manifest(local, store_as, top.bytes, top.media_type)
        .await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_from_registry_entries() {
        let s = Source::on_host("docker.io", "alpine").unwrap();
        assert_eq!(s.host, "registry-1.docker.io");
        assert_eq!(s.repo, "library/alpine");
        let s = Source::on_host("https://ghcr.io/", "a/b").unwrap();
        assert_eq!(
            (s.host.as_str(), s.scheme.as_deref(), s.repo.as_str()),
            ("ghcr.io", Some("https"), "a/b")
        );
        assert!(Source::on_host("", "a").is_none());
        assert!(Source::on_host("ftp://x", "a").is_none());
        assert!(Source::on_host("ghcr.io/path", "a").is_none());
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:80"));
        assert!(!is_loopback("ghcr.io"));
        assert!(!is_loopback("127.example.com:1"));
    }
}
