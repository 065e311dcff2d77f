//! The device as the installer finds it: each table it cares about read once (veths, bridge
//! ports, mounts, containers) and the site's files and directories in one `/file/print`.
//! Steps decide from this and write only what differs.

use std::collections::BTreeMap;

use super::layout;
use crate::routeros::{BridgePort, Container, FileEntry, Mount, RosClient, RosError, Veth};

#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub veths: Vec<Veth>,
    pub ports: Vec<BridgePort>,
    pub mounts: Vec<Mount>,
    pub containers: Vec<Container>,
    /// Site directories and files present, by device path (no leading `/`).
    pub files: BTreeMap<String, FileEntry>,
}

impl Observed {
    /// Reads the device: four tables and one filtered file listing (`paths`).
    pub async fn read(client: &RosClient, paths: &[String]) -> Result<Observed, RosError> {
        let veths = client.list_veths().await?;
        let ports = client.list_bridge_ports().await?;
        let mounts = client.list_all_mounts().await?;
        let containers = client.list_containers().await?;
        let files = client
            .files_named(paths)
            .await?
            .into_iter()
            .map(|f| (f.name.clone(), f))
            .collect();
        Ok(Observed {
            veths,
            ports,
            mounts,
            containers,
            files,
        })
    }

    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }

    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.get(crate::routeros::normalize_path(path))
    }

    /// The text of a small file, when present and shown.
    pub fn contents(&self, path: &str) -> Option<&str> {
        self.file(path).and_then(|f| f.contents.as_deref())
    }
}

/// Every path the installer looks at: directories, configuration files (and their checksum
/// sidecars), and the containers' root-dirs.
pub fn site_paths() -> Vec<String> {
    let mut paths = layout::directories();
    for f in super::configs::all_paths() {
        paths.push(super::transport::sidecar(&f));
        paths.push(f);
    }
    for c in [layout::REGISTRY, layout::NATS, layout::UPDATER] {
        paths.push(crate::routeros::normalize_path(&layout::root_dir(c)).to_string());
    }
    paths.sort();
    paths.dedup();
    paths
}
