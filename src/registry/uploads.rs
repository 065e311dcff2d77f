//! Upload sessions (spec images.md §2.3, §2.4, §2.5): one mutex per session for appends,
//! a short lock for the table, incremental hashing, idle reaping by last byte received.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::store::{Store, blocking};

/// Injectable clock (tests use a fake one).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(SystemTime::now)
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `<uuid>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionFile {
    pub repo: String,
    pub created: u64,
    pub touched: u64,
    pub size: u64,
}

/// Appendable state, guarded by the session's own mutex.
pub struct SessionState {
    pub size: u64,
    /// Hash of the first `size` bytes; `None` after a restart until re-hashed.
    pub hasher: Option<sha2::Sha256>,
    /// Set once committed or cancelled: later users see 404.
    pub closed: bool,
}

pub struct Session {
    pub id: uuid::Uuid,
    pub repo: String,
    pub created: u64,
    /// Unix seconds of the last byte received.
    pub touched: AtomicU64,
    pub state: tokio::sync::Mutex<SessionState>,
}

pub struct Uploads {
    table: Mutex<HashMap<uuid::Uuid, Arc<Session>>>,
    dir: PathBuf,
    pub clock: Clock,
    pub idle: Duration,
}

impl Uploads {
    /// Loads live sessions from `uploads/`; deletes data whose session file is missing,
    /// unreadable or idle longer than `idle`.
    pub fn load(store: &Store, clock: Clock, idle: Duration) -> std::io::Result<Uploads> {
        let dir = store.uploads_dir();
        let now = secs(clock());
        let mut table = HashMap::new();
        for e in std::fs::read_dir(&dir)? {
            let p = e?.path();
            let Some(stem) = p.file_stem().and_then(|s| s.to_str()) else {
                let _ = std::fs::remove_file(&p);
                continue;
            };
            let id = uuid::Uuid::parse_str(stem).ok();
            let keep = id.and_then(|id| {
                let meta: SessionFile =
                    serde_json::from_slice(&std::fs::read(dir.join(format!("{id}.json"))).ok()?)
                        .ok()?;
                let len = std::fs::metadata(dir.join(format!("{id}.data")))
                    .ok()?
                    .len();
                (now.saturating_sub(meta.touched) <= idle.as_secs()
                    && super::names::valid_name(&meta.repo))
                .then_some((id, meta, len))
            });
            match keep {
                Some((id, meta, len)) => {
                    table.entry(id).or_insert_with(|| {
                        Arc::new(Session {
                            id,
                            repo: meta.repo,
                            created: meta.created,
                            touched: AtomicU64::new(meta.touched),
                            state: tokio::sync::Mutex::new(SessionState {
                                size: len,
                                hasher: None,
                                closed: false,
                            }),
                        })
                    });
                }
                None => {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
        Ok(Uploads {
            table: Mutex::new(table),
            dir,
            clock,
            idle,
        })
    }

    pub fn now(&self) -> u64 {
        secs((self.clock)())
    }

    pub fn data_path(&self, id: &uuid::Uuid) -> PathBuf {
        self.dir.join(format!("{id}.data"))
    }

    pub fn meta_path(&self, id: &uuid::Uuid) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Creates an empty session for `repo`.
    pub async fn create(&self, store: &Store, repo: &str) -> std::io::Result<Arc<Session>> {
        let id = uuid::Uuid::new_v4();
        let now = self.now();
        let data = self.data_path(&id);
        blocking(move || std::fs::File::create(&data).map(|_| ())).await?;
        let s = Arc::new(Session {
            id,
            repo: repo.to_string(),
            created: now,
            touched: AtomicU64::new(now),
            state: tokio::sync::Mutex::new(SessionState {
                size: 0,
                hasher: Some(sha2::Sha256::new()),
                closed: false,
            }),
        });
        self.write_meta(store, &s, 0).await?;
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, s.clone());
        Ok(s)
    }

    pub async fn write_meta(&self, store: &Store, s: &Session, size: u64) -> std::io::Result<()> {
        let meta = SessionFile {
            repo: s.repo.clone(),
            created: s.created,
            touched: s.touched.load(Ordering::Relaxed),
            size,
        };
        let body = serde_json::to_vec(&meta).map_err(std::io::Error::other)?;
        store.write_small(self.meta_path(&s.id), body).await
    }

    /// The session `id` if it belongs to `repo` (sessions are bound to their repository).
    pub fn get(&self, repo: &str, id: &uuid::Uuid) -> Option<Arc<Session>> {
        let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.get(id).filter(|s| s.repo == repo).cloned()
    }

    /// Forgets a session and deletes its files. Caller holds the session's state lock
    /// and marks it closed.
    pub fn remove(&self, id: &uuid::Uuid) {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        let _ = std::fs::remove_file(self.data_path(id));
        let _ = std::fs::remove_file(self.meta_path(id));
    }

    pub fn touch(&self, s: &Session) {
        s.touched.store(self.now(), Ordering::Relaxed);
    }

    /// Reaps sessions that received no byte for longer than `idle`; returns how many.
    /// A session busy with an append is not idle.
    pub fn reap_idle(&self) -> usize {
        let now = self.now();
        let candidates: Vec<Arc<Session>> = {
            let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
            t.values()
                .filter(|s| {
                    now.saturating_sub(s.touched.load(Ordering::Relaxed)) > self.idle.as_secs()
                })
                .cloned()
                .collect()
        };
        let mut n = 0;
        for s in candidates {
            let Ok(mut st) = s.state.try_lock() else {
                continue;
            };
            if now.saturating_sub(s.touched.load(Ordering::Relaxed)) <= self.idle.as_secs() {
                continue;
            }
            st.closed = true;
            self.remove(&s.id);
            n += 1;
        }
        n
    }

    pub fn len(&self) -> usize {
        self.table.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Re-hashes the first `size` bytes of a session's data (after a restart), streaming.
pub async fn rehash(path: PathBuf, size: u64) -> std::io::Result<sha2::Sha256> {
    blocking(move || {
        use std::io::Read;
        let mut f = std::fs::File::open(&path)?.take(size);
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(h)
    })
    .await
}
