//! Pull-through (spec images.md §2.7, `pullThrough: true`): a GET or HEAD of a manifest or
//! blob the store lacks is fetched from upstream, stored, then served. Sources, in order: the
//! `watchImages` mapping of the repository (`localRepo` → upstream host/repo), then every
//! `upstreamRegistries` host with the same repository path.
//!
//! Tags fetched this way are re-resolved once older than the TTL (the original cached them
//! forever); a stale tag whose upstream is unreachable is still served. A local push of a tag
//! makes it local again. Pull-through never emits push events (§2.8).
//!
//! The TTL bookkeeping lives in memory: a tag pulled through before a restart is served as a
//! local tag afterwards and no longer re-resolved (the original never re-resolved any).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::oci::{self, OciError};

use super::names::{Digest, Reference};
use super::store::{KeyedLocks, Store};
use super::upstream::{Source, Upstream, UpstreamOptions, copy_blob};

pub struct PullThrough {
    upstream: Arc<Upstream>,
    /// `localRepo` → upstream repository, from `watchImages`.
    mappings: Vec<(String, Source)>,
    registries: Vec<String>,
    ttl: Duration,
    /// (repository, tag) → when pull-through last stored it.
    pulled: Mutex<HashMap<(String, String), Instant>>,
    /// One fetch at a time per manifest reference and per blob: concurrent requests for the
    /// same missing content wait for the first download instead of repeating it.
    fetching: KeyedLocks<tokio::sync::Mutex<()>>,
}

impl PullThrough {
    pub fn new(upstream: Arc<Upstream>, opts: &UpstreamOptions) -> PullThrough {
        let mappings = opts
            .watch
            .iter()
            .filter_map(|w| match oci::reference::parse(&w.upstream, "") {
                Ok(r) => Some((
                    w.local_repo.clone(),
                    Source {
                        host: r.host,
                        scheme: r.scheme,
                        repo: r.repo,
                    },
                )),
                Err(e) => {
                    tracing::warn!(upstream = %w.upstream, error = %e, "watchImages entry ignored for pull-through");
                    None
                }
            })
            .collect();
        PullThrough {
            upstream,
            mappings,
            registries: opts.registries.clone(),
            ttl: opts.tag_ttl,
            pulled: Mutex::new(HashMap::new()),
            fetching: KeyedLocks::default(),
        }
    }

    fn pulled(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Instant>> {
        self.pulled.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where `name` is looked for upstream, in order.
    pub fn sources(&self, name: &str) -> Vec<Source> {
        let mapped = self
            .mappings
            .iter()
            .filter(|(local, _)| local == name)
            .map(|(_, s)| s.clone());
        let hosts = self
            .registries
            .iter()
            .filter_map(|h| Source::on_host(h, name));
        let mut out: Vec<Source> = Vec::new();
        for s in mapped.chain(hosts) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }

    /// True when `name:tag` came from pull-through longer ago than the TTL.
    fn stale(&self, name: &str, tag: &str) -> bool {
        self.pulled()
            .get(&(name.to_string(), tag.to_string()))
            .is_some_and(|at| at.elapsed() >= self.ttl)
    }

    /// A tag pushed locally is no longer re-resolved from upstream.
    pub fn forget(&self, name: &str, tag: &str) {
        self.pulled().remove(&(name.to_string(), tag.to_string()));
    }

    /// True when `name`/`r` is stored and, for a pulled-through tag, still within its TTL.
    fn served_locally(&self, store: &Store, name: &str, r: &Reference) -> bool {
        match r {
            Reference::Tag(t) => {
                store
                    .read_tag(name, t)
                    .is_some_and(|d| store.read_revision(name, &d).is_some())
                    && !self.stale(name, t)
            }
            Reference::Digest(d) => store.read_revision(name, d).is_some(),
        }
    }

    /// Makes `name`/`r` present locally when it is missing (or a stale pulled-through tag).
    /// Failures are logged; the caller then answers from whatever the store holds.
    pub async fn manifest(&self, store: &Store, name: &str, r: &Reference, accept: Option<&str>) {
        if self.served_locally(store, name, r) {
            return;
        }
        // Checked again under the lock: a concurrent request may have fetched it meanwhile.
        let lock = self.fetching.get(&format!("m {name} {r}"));
        let _one = lock.lock().await;
        if self.served_locally(store, name, r) {
            return;
        }
        let stale = matches!(r, Reference::Tag(t) if self.stale(name, t));
        if let (true, Reference::Tag(t)) = (stale, r) {
            // The stale tag is served whatever happens below; its next re-resolve waits
            // another TTL, so an unreachable upstream is not asked on every request.
            self.pulled()
                .insert((name.to_string(), t.clone()), Instant::now());
        }
        for src in self.sources(name) {
            match self.fetch_manifest(store, &src, name, r, accept).await {
                Ok(d) => {
                    tracing::info!(repo = name, reference = %r, upstream = %src, digest = %d, "manifest pulled through");
                    return;
                }
                Err(OciError::NotFound(_)) => continue,
                Err(e) => {
                    tracing::warn!(repo = name, reference = %r, upstream = %src, error = %e, "pull-through of manifest failed");
                }
            }
        }
    }

    async fn fetch_manifest(
        &self,
        store: &Store,
        src: &Source,
        name: &str,
        r: &Reference,
        accept: Option<&str>,
    ) -> Result<Digest, OciError> {
        let mut repo = self.upstream.repository(src);
        let raw = oci::fetch_manifest_raw(&mut repo, &r.to_string(), accept).await?;
        let d = store
            .commit_manifest(name, r, raw.bytes, raw.media_type)
            .await?;
        if let Reference::Tag(t) = r {
            self.pulled()
                .insert((name.to_string(), t.clone()), Instant::now());
        }
        Ok(d)
    }

    /// Makes blob `d` present locally when it is missing (logged when no source has it).
    pub async fn blob(&self, store: &Store, name: &str, d: &Digest) {
        if store.blob_size(d).is_some() {
            return;
        }
        let lock = self.fetching.get(&format!("b {d}"));
        let _one = lock.lock().await;
        if store.blob_size(d).is_some() {
            return;
        }
        for src in self.sources(name) {
            let mut repo = self.upstream.repository(&src);
            match copy_blob(store, &mut repo, d).await {
                Ok(_) => {
                    tracing::info!(repo = name, upstream = %src, digest = %d, "blob pulled through");
                    return;
                }
                Err(OciError::NotFound(_)) => continue,
                Err(e) => {
                    tracing::warn!(repo = name, upstream = %src, digest = %d, error = %e, "pull-through of blob failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::config::WatchImage;

    #[test]
    fn watch_mapping_first_then_registries() {
        let opts = UpstreamOptions {
            pull_through: true,
            registries: vec!["docker.io".into(), "".into(), "ghcr.io".into()],
            watch: vec![
                WatchImage {
                    upstream: "ghcr.io/team/app:edge".into(),
                    local_repo: "app".into(),
                },
                WatchImage {
                    upstream: "not a reference".into(),
                    local_repo: "broken".into(),
                },
            ],
            ..UpstreamOptions::default()
        };
        let pt = PullThrough::new(Arc::new(Upstream::new().unwrap()), &opts);
        let got: Vec<String> = pt.sources("app").iter().map(|s| s.to_string()).collect();
        assert_eq!(
            got,
            [
                "ghcr.io/team/app",
                "registry-1.docker.io/library/app",
                "ghcr.io/app"
            ]
        );
        let got: Vec<String> = pt.sources("broken").iter().map(|s| s.to_string()).collect();
        assert_eq!(
            got,
            ["registry-1.docker.io/library/broken", "ghcr.io/broken"]
        );
    }
}
