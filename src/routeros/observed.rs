//! The last bulk observation of the device (the reconcile pass's one read per table), kept on
//! the client so a cold create can decide without per-object reads (§5: observation is bulk).
//! It may be stale: callers use it only for names no record claims, and every optimistic
//! write it enables falls back to read-and-adopt on a duplicate error.

use super::client::RosClient;
use super::resources::{BridgePort, Container, Veth};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

/// Names seen in one pass.
#[derive(Debug, Clone)]
pub struct Observation {
    pub at: Instant,
    pub containers: HashSet<String>,
    /// Veth name → its first IPv4 CIDR (empty when it has none).
    pub veths: HashMap<String, String>,
    /// Interfaces with a bridge port.
    pub ports: HashSet<String>,
}

impl Observation {
    pub fn new(containers: &[Container], veths: &[Veth], ports: &[BridgePort]) -> Observation {
        Observation {
            at: Instant::now(),
            containers: containers.iter().map(|c| c.name.clone()).collect(),
            veths: veths
                .iter()
                .map(|v| (v.name.clone(), v.ipv4().unwrap_or_default()))
                .collect(),
            ports: ports.iter().map(|p| p.interface.clone()).collect(),
        }
    }
}

impl RosClient {
    /// Keeps `obs` as the latest observation (the reconcile pass, after its listing).
    pub fn set_observation(&self, obs: Observation) {
        *self.shared().seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(obs));
    }

    /// The latest observation, if a pass made one on this client.
    pub fn observation(&self) -> Option<Arc<Observation>> {
        self.shared()
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether `dir` is known to exist (created or found by [`RosClient::ensure_directory`]).
    pub(super) fn dir_known(&self, dir: &str) -> bool {
        self.shared()
            .dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(dir)
    }

    pub(super) fn dir_exists(&self, dir: &str) {
        self.shared()
            .dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(dir.to_string());
    }
}
