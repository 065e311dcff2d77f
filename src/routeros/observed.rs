//! What one bulk read of the device showed, by name (§5: observation is bulk): the
//! reconcile pass makes it from its snapshot and hands it on, so the pass decides which pods
//! need work, and a cold create decides without per-object reads. It may be stale: callers
//! use it only for names no record claims, and every optimistic write it enables falls back
//! to read-and-adopt on a duplicate error.

use super::snapshot::DeviceSnapshot;
use std::collections::{HashMap, HashSet};
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
    /// Interface → the containers whose `interface` names it.
    pub holders: HashMap<String, Vec<String>>,
}

impl Observation {
    /// The names `snapshot` shows, as of now.
    pub fn of(snapshot: &DeviceSnapshot) -> Observation {
        Observation {
            at: Instant::now(),
            containers: snapshot.containers.iter().map(|c| c.name.clone()).collect(),
            veths: snapshot
                .veths
                .iter()
                .map(|v| (v.name.clone(), v.ipv4().unwrap_or_default()))
                .collect(),
            ports: snapshot
                .bridge_ports
                .iter()
                .map(|p| p.interface.clone())
                .collect(),
            holders: holders(&snapshot.containers),
        }
    }
}

/// Interface → the containers using it, from a container listing.
pub fn holders(containers: &[super::Container]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for c in containers {
        for iface in c
            .interface
            .split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
        {
            out.entry(iface.to_string())
                .or_default()
                .push(c.name.clone());
        }
    }
    out
}
