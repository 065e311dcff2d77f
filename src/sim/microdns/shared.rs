//! State shared by the REST, control and DNS listeners and the in-process handle.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use super::MicrodnsVersion;
use super::faults::Faults;
use super::log::RequestLog;
use super::persist;
use super::store::Store;

pub struct Shared {
    pub store: Mutex<Store>,
    pub log: Mutex<RequestLog>,
    pub faults: Mutex<Faults>,
    pub lenient_ids: bool,
    pub dedup: bool,
    pub version: MicrodnsVersion,
    pub state_file: Option<PathBuf>,
    persist_lock: Mutex<()>,
    /// Tells the listener supervisor that `refuse` was set or cleared.
    pub listener_tx: tokio::sync::mpsc::UnboundedSender<ListenerCmd>,
}

/// Commands for the task that owns the REST listener.
pub enum ListenerCmd {
    /// Close (`true`) or reopen (`false`) the REST port; the sender learns when it is done.
    Refuse(bool, Option<std::sync::mpsc::Sender<()>>),
    Stop,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(
        store: Store,
        opts: &super::MicrodnsSimOptions,
        listener_tx: tokio::sync::mpsc::UnboundedSender<ListenerCmd>,
    ) -> Shared {
        Shared {
            store: Mutex::new(store),
            log: Mutex::new(RequestLog::default()),
            faults: Mutex::new(Faults::default()),
            lenient_ids: opts.lenient_ids,
            dedup: opts.dedup,
            version: opts.version,
            state_file: opts.state_file.clone(),
            persist_lock: Mutex::new(()),
            listener_tx,
        }
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }
    pub fn log(&self) -> MutexGuard<'_, RequestLog> {
        lock(&self.log)
    }
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    /// Writes the state file (if any) from the current store.
    pub fn persist(&self) {
        let Some(path) = &self.state_file else {
            return;
        };
        let _order = lock(&self.persist_lock);
        let bytes = match serde_json::to_vec_pretty(&*self.store()) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "microdns-sim: state serialisation failed");
                return;
            }
        };
        if let Err(e) = persist::write_atomic(path, &bytes) {
            tracing::warn!(error = %e, path = %path.display(), "microdns-sim: state file write failed");
        }
    }

    /// Empty database; ids issued afterwards are new (§5 `wipe`).
    pub fn wipe(&self) {
        *self.store() = Store::default();
        self.persist();
    }
}
