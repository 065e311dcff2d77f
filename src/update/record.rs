//! What mkube-update remembers across restarts, in `<dataDir>/update-state.json` (written to
//! a temp file, fsynced, renamed): the digest each container was last deployed from, the last
//! digest seen per repository, failure counts per digest, and the pending self-update.
//! The swap-in-progress mark has its own file ([`super::mark`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const FILE: &str = "update-state.json";

/// Failed swaps of one repository's digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failures {
    pub digest: String,
    pub count: u32,
}

/// A self-update asked of mkube's update API; checked on the next start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSelf {
    pub container: String,
    pub repo: String,
    pub digest: String,
    /// The row that was asked to be replaced: a different id on the next start means it was.
    pub old_id: String,
    /// The reference the rollback would use (`host/repo@<old digest>`), if any.
    pub rollback: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Record {
    /// Container name → the manifest digest it was created from.
    pub deployed: BTreeMap<String, String>,
    /// Repository → the digest last seen (informational).
    pub seen: BTreeMap<String, String>,
    /// Repository → failures of its current digest.
    pub failures: BTreeMap<String, Failures>,
    pub pending_self: Option<PendingSelf>,
}

impl Record {
    /// Failures counted for `repo` at `digest` (0 when the digest changed since).
    pub fn failures_of(&self, repo: &str, digest: &str) -> u32 {
        self.failures
            .get(repo)
            .filter(|f| f.digest == digest)
            .map_or(0, |f| f.count)
    }

    pub fn count_failure(&mut self, repo: &str, digest: &str) -> u32 {
        let entry = self.failures.entry(repo.to_string()).or_default();
        if entry.digest != digest {
            *entry = Failures {
                digest: digest.to_string(),
                count: 0,
            };
        }
        entry.count += 1;
        entry.count
    }

    pub fn clear_failures(&mut self, repo: &str) {
        self.failures.remove(repo);
    }
}

/// The record's file; every change is written through.
#[derive(Debug, Clone)]
pub struct RecordFile {
    path: PathBuf,
}

impl RecordFile {
    pub fn new(data_dir: &Path) -> RecordFile {
        RecordFile {
            path: data_dir.join(FILE),
        }
    }

    /// The record; an absent file is an empty record; an unreadable one is reported.
    pub fn load(&self) -> Result<Record, String> {
        match std::fs::read(&self.path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| format!("{}: unreadable ({e})", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Record::default()),
            Err(e) => Err(format!("{}: {e}", self.path.display())),
        }
    }

    pub fn save(&self, record: &Record) -> Result<(), String> {
        write_atomic(
            &self.path,
            &serde_json::to_vec_pretty(record).unwrap_or_default(),
        )
        .map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// Loads, changes and saves.
    pub fn update<T>(&self, change: impl FnOnce(&mut Record) -> T) -> Result<T, String> {
        let mut r = self.load()?;
        let out = change(&mut r);
        self.save(&r)?;
        Ok(out)
    }
}

/// Writes `bytes` to `path` through `<path>.tmp` (same directory), fsync, rename, directory
/// fsync: a crash leaves the old file or the new one, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_reset_on_a_new_digest_and_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let f = RecordFile::new(dir.path());
        assert_eq!(f.load().unwrap(), Record::default());
        f.update(|r| {
            r.count_failure("mkube", "sha256:a");
            r.count_failure("mkube", "sha256:a");
        })
        .unwrap();
        let r = f.load().unwrap();
        assert_eq!(r.failures_of("mkube", "sha256:a"), 2);
        assert_eq!(r.failures_of("mkube", "sha256:b"), 0);
        let mut r = r;
        assert_eq!(r.count_failure("mkube", "sha256:b"), 1);
        std::fs::write(dir.path().join(FILE), b"{not json").unwrap();
        assert!(f.load().unwrap_err().contains("unreadable"));
    }
}
