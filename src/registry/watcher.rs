//! The watcher (spec images.md §2.7): every `watchImages` entry is checked at start, then every
//! `watchPollSeconds` or when `POST :5001/poll` asks. A check HEADs the upstream manifest; when
//! its digest differs from the one last seen, the image is mirrored under `localRepo`:
//! - an index: its `linux/<arch>` child (else the first entry, with a warning) with config and
//!   layers, the child stored by digest and the index under the tag;
//! - a single manifest: its blobs, then the manifest under the tag.
//!
//! The first successful observation after start mirrors silently; a later change emits one push
//! event `{repo: localRepo, reference: tag}` through the registry's push hook (webhook and SSE).
//! A failed check keeps the last seen digest, so the next cycle tries again.
//!
//! The digest last mirrored per entry is also kept in the store (`<root>/watcher.json`), so a
//! restart does not mirror an upstream image that has not changed since: the local tag may have
//! moved on meanwhile (an image pushed to this registry, e.g. a new `mkube-registry:edge` that
//! mkube-update then swaps in, images.md §5.5), and a restart must not put the older upstream
//! image back under it. Without a recorded digest (first start, or an entry added) the first
//! observation mirrors, as before.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::oci::{self, OciError};

use super::names::{Digest, Reference, valid_name, valid_tag};
use super::notify::PushHook;
use super::store::{Store, write_atomic};
use super::upstream::{Source, Upstream, UpstreamOptions, mirror};

/// One watched image.
#[derive(Clone, Debug)]
struct Watched {
    source: Source,
    tag: String,
    local_repo: String,
}

impl Watched {
    /// Its key in `watcher.json`: the upstream reference and the local name it is mirrored to.
    fn key(&self) -> String {
        format!(
            "{}/{}:{} -> {}",
            self.source.host, self.source.repo, self.tag, self.local_repo
        )
    }
}

/// The file keeping the digest last mirrored per entry across restarts.
const MIRRORED_FILE: &str = "watcher.json";

fn load_mirrored(store: &Store) -> HashMap<String, String> {
    let path = store.root().join(MIRRORED_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!(file = %path.display(), error = %e, "unreadable watcher record; ignored");
            HashMap::new()
        }),
        Err(_) => HashMap::new(),
    }
}

fn save_mirrored(store: &Store, mirrored: &HashMap<String, String>) {
    let path = store.root().join(MIRRORED_FILE);
    let bytes = serde_json::to_vec_pretty(mirrored).unwrap_or_default();
    if let Err(e) = write_atomic(&store.tmp_path(), &path, &bytes) {
        tracing::warn!(file = %path.display(), error = %e, "watcher record not written");
    }
}

pub struct Watcher {
    upstream: Arc<Upstream>,
    images: Vec<Watched>,
    arch: String,
    interval: Duration,
    wake: tokio::sync::Notify,
    /// Index into `images` → digest last seen. Held for a whole cycle: cycles never overlap.
    last: tokio::sync::Mutex<HashMap<usize, Digest>>,
    cycles: AtomicU64,
}

impl Watcher {
    /// `None` when no entry of `opts.watch` is usable (each bad one is logged).
    pub fn new(upstream: Arc<Upstream>, opts: &UpstreamOptions) -> Option<Watcher> {
        let images: Vec<Watched> = opts.watch.iter().filter_map(|w| {
            let parsed = oci::reference::parse(&w.upstream, "");
            match parsed {
                Ok(r) if !r.is_digest() && valid_tag(&r.reference) && valid_name(&w.local_repo) => Some(Watched {
                    source: Source { host: r.host, scheme: r.scheme, repo: r.repo },
                    tag: r.reference,
                    local_repo: w.local_repo.clone(),
                }),
                Ok(_) => {
                    tracing::warn!(upstream = %w.upstream, local = %w.local_repo, "watchImages entry needs a tag and a valid localRepo; ignored");
                    None
                }
                Err(e) => {
                    tracing::warn!(upstream = %w.upstream, error = %e, "watchImages entry ignored");
                    None
                }
            }
        }).collect();
        if images.is_empty() {
            return None;
        }
        Some(Watcher {
            upstream,
            images,
            arch: opts.arch.clone(),
            interval: opts.poll_interval.max(Duration::from_millis(100)),
            wake: tokio::sync::Notify::new(),
            last: tokio::sync::Mutex::new(HashMap::new()),
            cycles: AtomicU64::new(0),
        })
    }

    /// Asks for a cycle now (one more runs after a cycle in progress).
    pub fn trigger(&self) {
        self.wake.notify_one();
    }

    /// Cycles completed since start.
    pub fn cycles(&self) -> u64 {
        self.cycles.load(Ordering::SeqCst)
    }

    /// Checks at once, then every interval or when triggered; runs until dropped. Changes are
    /// mirrored into `store` and announced through `on_push`.
    pub async fn run(self: Arc<Self>, store: Arc<Store>, on_push: Option<PushHook>) {
        loop {
            // A panic in one cycle is logged and the watcher lives on (§2.5 panic isolation).
            let cycle = std::panic::AssertUnwindSafe(self.cycle(&store, on_push.as_ref()));
            if futures::FutureExt::catch_unwind(cycle).await.is_err() {
                tracing::error!("watcher cycle panicked");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// One check of every watched image.
    pub async fn cycle(&self, store: &Store, on_push: Option<&PushHook>) {
        let mut last = self.last.lock().await;
        let mut mirrored = load_mirrored(store);
        for (i, w) in self.images.iter().enumerate() {
            let key = w.key();
            // Before this process saw the entry: what was mirrored before the restart, if
            // upstream still serves it, is taken as seen (nothing mirrored, the local tag kept;
            // a tag that is gone is mirrored again).
            if !last.contains_key(&i)
                && let Some(before) = mirrored.get(&key).and_then(|d| Digest::parse(d))
                && store.tag_path(&w.local_repo, &w.tag).is_file()
            {
                match self.upstream_digest(w).await {
                    Ok(current) if current == before => {
                        tracing::info!(repo = %w.local_repo, tag = %w.tag, digest = %current, "watched image unchanged upstream since it was mirrored; local tag kept");
                        last.insert(i, current);
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(upstream = %w.source, tag = %w.tag, error = %e, "watch check failed");
                        continue;
                    }
                }
            }
            match self.check(store, w, last.get(&i)).await {
                Ok(Some(d)) => {
                    mirrored.insert(key, d.to_string());
                    save_mirrored(store, &mirrored);
                    let first = last.insert(i, d.clone()).is_none();
                    if first {
                        tracing::info!(repo = %w.local_repo, tag = %w.tag, digest = %d, "watched image mirrored (first observation, no event)");
                    } else {
                        tracing::info!(repo = %w.local_repo, tag = %w.tag, digest = %d, "watched image changed upstream; mirrored");
                        if let Some(hook) = on_push {
                            hook(&w.local_repo, &w.tag, &d);
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(upstream = %w.source, tag = %w.tag, error = %e, "watch check failed");
                }
            }
        }
        self.cycles.fetch_add(1, Ordering::SeqCst);
    }

    /// The digest upstream serves for the entry's tag (a manifest HEAD).
    async fn upstream_digest(&self, w: &Watched) -> Result<Digest, OciError> {
        let mut repo = self.upstream.repository(&w.source);
        let current = oci::manifest_digest(&mut repo, &w.tag).await?;
        Digest::parse(&current).ok_or_else(|| OciError::Malformed(format!("bad digest {current}")))
    }

    /// `Some(digest)` when the upstream digest differs from `seen` and was mirrored.
    async fn check(
        &self,
        store: &Store,
        w: &Watched,
        seen: Option<&Digest>,
    ) -> Result<Option<Digest>, OciError> {
        let current = self.upstream_digest(w).await?;
        if seen == Some(&current) {
            return Ok(None);
        }
        let mut repo = self.upstream.repository(&w.source);
        // Fetched by digest, so what is stored is what the HEAD announced.
        let tag = Reference::Tag(w.tag.clone());
        let fetch = current.to_string();
        mirror(store, &mut repo, &w.local_repo, &fetch, &tag, &self.arch).await?;
        Ok(Some(current))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::config::WatchImage;

    #[test]
    fn unusable_watch_entries_are_skipped() {
        let up = Arc::new(Upstream::new().unwrap());
        let entry = |u: &str, l: &str| WatchImage {
            upstream: u.into(),
            local_repo: l.into(),
        };
        let opts = |watch| UpstreamOptions {
            watch,
            ..UpstreamOptions::default()
        };
        let digest = format!("ghcr.io/a/b@sha256:{}", "a".repeat(64));
        let bad = vec![
            entry("", "x"),
            entry("Bad Ref", "x"),
            entry("ghcr.io/a/b:v1", "../x"),
            entry("ghcr.io/a/b:v1", "Upper"),
            entry(&digest, "x"),
        ];
        assert!(Watcher::new(up.clone(), &opts(bad)).is_none());
        let w = Watcher::new(up, &opts(vec![entry("docker.io/alpine:3", "alpine")])).unwrap();
        assert_eq!(w.images.len(), 1);
        assert_eq!(w.images[0].source.host, "registry-1.docker.io");
        assert_eq!(w.images[0].source.repo, "library/alpine");
        assert_eq!(w.images[0].tag, "3");
    }
}
