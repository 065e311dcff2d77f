//! Storage layout (spec images.md §2.4) and per-resource locking (§2.5).
//!
//! ```text
//! <root>/blobs/sha256/<hex>                   immutable content (layers, configs, manifests)
//! <root>/repos/<name>/tags/<tag>              "sha256:<hex>"
//! <root>/repos/<name>/revisions/sha256/<hex>  media type
//! <root>/uploads/<uuid>.data, <uuid>.json     upload sessions
//! <root>/tmp/                                 staging for atomic writes
//! <root>/watcher.json                         the watcher's digests last mirrored (watcher.rs)
//! ```
//! Every file appears by `rename(2)` after an fsync, so readers take no lock.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::names::{Digest, Reference};
use crate::oci::manifest::DOCKER_MANIFEST;

/// A map of named async locks; entries are dropped when nobody holds them.
#[derive(Default)]
pub struct KeyedLocks<L> {
    map: Mutex<HashMap<String, Arc<L>>>,
}

impl<L: Default> KeyedLocks<L> {
    /// The lock for `key` (created on demand). Unused entries are pruned here.
    pub fn get(&self, key: &str) -> Arc<L> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 1024 {
            map.retain(|_, v| Arc::strong_count(v) > 1);
        }
        map.entry(key.to_string()).or_default().clone()
    }
}

/// The on-disk store.
pub struct Store {
    root: PathBuf,
    /// One mutex per blob digest for commits.
    pub blob_locks: KeyedLocks<tokio::sync::Mutex<()>>,
    /// One read/write lock per repository for tag and revision updates.
    pub repo_locks: KeyedLocks<tokio::sync::RwLock<()>>,
}

impl Store {
    /// Opens (creating) the store and clears `tmp/`.
    pub fn open(root: &Path) -> std::io::Result<Store> {
        for d in ["blobs/sha256", "repos", "uploads", "tmp"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        for e in std::fs::read_dir(root.join("tmp"))? {
            let p = e?.path();
            if p.is_dir() {
                std::fs::remove_dir_all(&p)?;
            } else {
                std::fs::remove_file(&p)?;
            }
        }
        Ok(Store {
            root: root.to_path_buf(),
            blob_locks: KeyedLocks::default(),
            repo_locks: KeyedLocks::default(),
        })
    }

    /// Imports the original layout `manifests/<repo>/<ref>.json` (+ `<ref>.json.type`):
    /// bytes → blob, media type (Docker v2 when absent) → revision, a non-digest name →
    /// tag. Files not starting with `{`/`[` are skipped; existing tags and revisions are never
    /// overwritten (the import runs at every start). Returns how many files were imported.
    pub fn import_legacy(&self) -> std::io::Result<usize> {
        let legacy = self.root.join("manifests");
        let mut files = Vec::new();
        collect_legacy(&legacy, String::new(), &mut files);
        let mut n = 0;
        for (repo, reference, path) in files {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            if !matches!(bytes.first(), Some(b'{' | b'[')) {
                tracing::warn!(file = %path.display(), "legacy manifest is not JSON; skipped");
                continue;
            }
            let d = Digest::of(&bytes);
            let mut type_path = path.clone().into_os_string();
            type_path.push(".type");
            let media = std::fs::read_to_string(&type_path)
                .map(|t| t.trim().to_string())
                .ok()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| DOCKER_MANIFEST.to_string());
            let as_digest = reference
                .strip_prefix("sha256-")
                .is_some_and(|h| h == d.hex());
            if !as_digest && !super::names::valid_tag(&reference) {
                continue;
            }
            let blob = self.blob_path(&d);
            if !blob.is_file() {
                write_atomic(&self.tmp_path(), &blob, &bytes)?;
            }
            let rev = self.revision_path(&repo, &d);
            if !rev.exists() {
                write_atomic(&self.tmp_path(), &rev, media.as_bytes())?;
            }
            let tag = self.tag_path(&repo, &reference);
            if !as_digest && !tag.exists() {
                write_atomic(&self.tmp_path(), &tag, d.to_string().as_bytes())?;
            }
            n += 1;
        }
        Ok(n)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    fn repo_dir(&self, name: &str) -> PathBuf {
        self.root.join("repos").join(name)
    }

    pub fn tag_path(&self, name: &str, tag: &str) -> PathBuf {
        self.repo_dir(name).join("tags").join(tag)
    }

    pub fn revision_path(&self, name: &str, d: &Digest) -> PathBuf {
        self.repo_dir(name).join("revisions/sha256").join(d.hex())
    }

    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }

    /// A fresh staging path in `tmp/`.
    pub fn tmp_path(&self) -> PathBuf {
        self.root.join("tmp").join(uuid::Uuid::new_v4().to_string())
    }

    /// Size of a stored blob, if present.
    pub fn blob_size(&self, d: &Digest) -> Option<u64> {
        std::fs::metadata(self.blob_path(d))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// Moves the fsynced file `staged` into place as blob `d`. An existing blob is never
    /// rewritten (the staged file is removed instead). Caller verified the digest.
    pub async fn commit_blob(&self, staged: &Path, d: &Digest) -> std::io::Result<()> {
        let lock = self.blob_locks.get(d.hex());
        let _g = lock.lock().await;
        let target = self.blob_path(d);
        let staged = staged.to_path_buf();
        blocking(move || {
            if target.is_file() {
                let _ = std::fs::remove_file(&staged);
                return Ok(());
            }
            std::fs::rename(&staged, &target)?;
            sync_parent(&target)
        })
        .await
    }

    /// Writes `data` as a blob (verified against its own digest), atomically.
    pub async fn put_small_blob(&self, data: Vec<u8>) -> std::io::Result<Digest> {
        let d = Digest::of(&data);
        if self.blob_size(&d).is_some() {
            return Ok(d);
        }
        let tmp = self.tmp_path();
        let t2 = tmp.clone();
        blocking(move || {
            let mut f = std::fs::File::create(&t2)?;
            f.write_all(&data)?;
            f.sync_all()
        })
        .await?;
        self.commit_blob(&tmp, &d).await?;
        Ok(d)
    }

    /// Write-temp-then-rename of a small metadata file (tags, revisions, sessions).
    pub async fn write_small(&self, target: PathBuf, data: Vec<u8>) -> std::io::Result<()> {
        let tmp = self.tmp_path();
        blocking(move || write_atomic(&tmp, &target, &data)).await
    }

    /// Stores manifest bytes as a blob, records the revision (media type) and, for a tag
    /// reference, points the tag at it. Used by manifest PUTs, pull-through and the watcher.
    pub async fn commit_manifest(
        &self,
        name: &str,
        r: &Reference,
        body: Vec<u8>,
        media: String,
    ) -> std::io::Result<Digest> {
        let d = self.put_small_blob(body).await?;
        let lock = self.repo_locks.get(name);
        let _w = lock.write().await;
        self.write_small(self.revision_path(name, &d), media.into_bytes())
            .await?;
        if let Reference::Tag(t) = r {
            self.write_small(self.tag_path(name, t), d.to_string().into_bytes())
                .await?;
        }
        Ok(d)
    }

    /// Reads a tag: the manifest digest it names.
    pub fn read_tag(&self, name: &str, tag: &str) -> Option<Digest> {
        let s = std::fs::read_to_string(self.tag_path(name, tag)).ok()?;
        Digest::parse(s.trim())
    }

    /// The media type of manifest `d` when it is stored in repository `name`.
    pub fn read_revision(&self, name: &str, d: &Digest) -> Option<String> {
        std::fs::read_to_string(self.revision_path(name, d))
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// Sorted tags of a repository; `None` when the repository does not exist.
    pub fn tags(&self, name: &str) -> Option<Vec<String>> {
        let dir = self.repo_dir(name);
        let has_revs = std::fs::read_dir(dir.join("revisions/sha256"))
            .map(|mut r| r.next().is_some())
            .unwrap_or(false);
        let mut tags: Vec<String> = match std::fs::read_dir(dir.join("tags")) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|t| super::names::valid_tag(t))
                .collect(),
            Err(_) if has_revs => Vec::new(),
            Err(_) => return None,
        };
        if tags.is_empty() && !has_revs {
            return None;
        }
        tags.sort();
        Some(tags)
    }

    /// Sorted repositories holding at least one tag or manifest.
    pub fn catalog(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk_repos(&self.root.join("repos"), String::new(), &mut out);
        out.retain(|n| self.tags(n).is_some());
        out.sort();
        out
    }

    /// Deletes a tag (202 semantics); false when absent.
    pub fn delete_tag(&self, name: &str, tag: &str) -> bool {
        std::fs::remove_file(self.tag_path(name, tag)).is_ok()
    }

    /// Deletes a manifest revision and every tag of the repo pointing at it.
    pub fn delete_revision(&self, name: &str, d: &Digest) -> bool {
        if std::fs::remove_file(self.revision_path(name, d)).is_err() {
            return false;
        }
        for t in self.tags(name).unwrap_or_default() {
            if self.read_tag(name, &t).as_ref() == Some(d) {
                self.delete_tag(name, &t);
            }
        }
        true
    }
}

/// `(repo, ref, path)` of every `<ref>.json` under the legacy `manifests/` tree.
fn collect_legacy(dir: &Path, prefix: String, out: &mut Vec<(String, String, PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(|e| e.ok()) {
        let Ok(n) = e.file_name().into_string() else {
            continue;
        };
        let Ok(ft) = e.file_type() else {
            continue;
        };
        if ft.is_dir() {
            let name = if prefix.is_empty() {
                n
            } else {
                format!("{prefix}/{n}")
            };
            if super::names::valid_name(&name) {
                collect_legacy(&e.path(), name, out);
            }
        } else if ft.is_file()
            && let Some(reference) = n.strip_suffix(".json")
            && super::names::valid_name(&prefix)
        {
            out.push((prefix.clone(), reference.to_string(), e.path()));
        }
    }
}

fn walk_repos(dir: &Path, prefix: String, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(|e| e.ok()) {
        if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        let Ok(n) = e.file_name().into_string() else {
            continue;
        };
        if n == "tags" || n == "revisions" {
            if !out.contains(&prefix) && !prefix.is_empty() {
                out.push(prefix.clone());
            }
            continue;
        }
        let name = if prefix.is_empty() {
            n
        } else {
            format!("{prefix}/{n}")
        };
        if super::names::valid_name(&name) {
            walk_repos(&e.path(), name, out);
        }
    }
}

/// Runs blocking filesystem work off the async workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| std::io::Error::other(format!("blocking task: {e}")))?
}

/// fsyncs the directory holding `path` so a rename survives a crash.
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// temp file + fsync + rename + fsync(dir).
pub fn write_atomic(tmp: &Path, target: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(p) = target.parent() {
        std::fs::create_dir_all(p)?;
    }
    let mut f = std::fs::File::create(tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    if let Err(e) = std::fs::rename(tmp, target) {
        let _ = std::fs::remove_file(tmp);
        return Err(e);
    }
    sync_parent(target)
}
