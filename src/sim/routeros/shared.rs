//! State shared by every request handler and the background ticker.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::device::Device;
use super::faults::Fault;
use super::journal::Journal;
use super::persist;

pub struct Shared {
    pub dev: Mutex<Device>,
    pub journal: Mutex<Journal>,
    pub faults: Mutex<Vec<Fault>>,
    pub state_file: Option<PathBuf>,
    pub persist_lock: Mutex<()>,
    pub user: String,
    pub password: String,
    pub serial: Option<tokio::sync::Mutex<()>>,
    pub in_flight: AtomicUsize,
    pub fixed_latency: std::time::Duration,
    /// `--run-containers`: the live container processes.
    pub processes: Option<Mutex<super::process::Supervisor>>,
}

impl Shared {
    /// Locks the device and applies due transitions first.
    pub fn dev(&self) -> MutexGuard<'_, Device> {
        let mut d = self.dev.lock().unwrap_or_else(|e| e.into_inner());
        d.tick(Instant::now());
        d
    }

    /// Writes the state file if anything changed since the last write.
    pub fn persist_if_dirty(&self) {
        let Some(path) = &self.state_file else {
            return;
        };
        let _order = self.persist_lock.lock().unwrap_or_else(|e| e.into_inner());
        let text = {
            let mut d = self.dev.lock().unwrap_or_else(|e| e.into_inner());
            if !d.rt.dirty {
                return;
            }
            d.rt.dirty = false;
            serde_json::to_vec_pretty(&d.t)
        };
        match text {
            Ok(bytes) => {
                if let Err(e) = persist::write_atomic(path, &bytes) {
                    tracing::warn!(error = %e, path = %path.display(), "routeros-sim: state file write failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "routeros-sim: state serialisation failed"),
        }
    }

    /// Locks the process supervisor, if containers run as processes.
    pub fn processes(&self) -> Option<MutexGuard<'_, super::process::Supervisor>> {
        self.processes
            .as_ref()
            .map(|p| p.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}
