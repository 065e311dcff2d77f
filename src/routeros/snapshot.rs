//! One bulk read per table: what a reconcile pass needs.

use super::client::RosClient;
use super::error::RosError;
use super::resources::{Bridge, BridgePort, Container, Env, IpAddress, Mount, Veth};

/// Which optional tables to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// Read `/interface/bridge` and `/ip/address` (network discovery).
    pub network: bool,
    /// Read all of `/container/mounts` (slow with many stale entries).
    pub mounts: bool,
    /// Read all of `/container/envs`.
    pub envs: bool,
}

/// The device's tables, each read with one GET, sequentially.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceSnapshot {
    pub containers: Vec<Container>,
    pub veths: Vec<Veth>,
    pub bridge_ports: Vec<BridgePort>,
    pub bridges: Option<Vec<Bridge>>,
    pub ip_addresses: Option<Vec<IpAddress>>,
    pub mounts: Option<Vec<Mount>>,
    pub envs: Option<Vec<Env>>,
}

impl DeviceSnapshot {
    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }

    pub fn veth(&self, name: &str) -> Option<&Veth> {
        self.veths.iter().find(|v| v.name == name)
    }

    /// Bridge ports of one interface.
    pub fn ports_of<'a>(&'a self, interface: &'a str) -> impl Iterator<Item = &'a BridgePort> + 'a {
        self.bridge_ports
            .iter()
            .filter(move |p| p.interface == interface)
    }

    /// Static ports whose interface is gone.
    pub fn dangling_ports(&self) -> impl Iterator<Item = &BridgePort> {
        self.bridge_ports.iter().filter(|p| p.is_dangling())
    }

    /// Containers that reference a veth.
    pub fn container_using(&self, veth: &str) -> Option<&Container> {
        self.containers
            .iter()
            .find(|c| c.interface.split(',').any(|i| i.trim() == veth))
    }

    /// Mounts of one list (when mounts were read).
    pub fn mounts_of<'a>(&'a self, list: &'a str) -> impl Iterator<Item = &'a Mount> + 'a {
        self.mounts.iter().flatten().filter(move |m| m.list == list)
    }
}

impl RosClient {
    /// Reads containers, veths and bridge ports (plus the optional tables),
    /// one GET per table, in sequence.
    pub async fn snapshot(&self, opts: SnapshotOptions) -> Result<DeviceSnapshot, RosError> {
        let containers = self.list_containers().await?;
        let veths = self.list_veths().await?;
        let bridge_ports = self.list_bridge_ports().await?;
        let (bridges, ip_addresses) = if opts.network {
            (
                Some(self.list_bridges().await?),
                Some(self.list_ip_addresses().await?),
            )
        } else {
            (None, None)
        };
        let mounts = if opts.mounts {
            Some(self.list_all_mounts().await?)
        } else {
            None
        };
        let envs = if opts.envs {
            Some(self.get_rows("/container/envs", &[]).await?)
        } else {
            None
        };
        Ok(DeviceSnapshot {
            containers,
            veths,
            bridge_ports,
            bridges,
            ip_addresses,
            mounts,
            envs,
        })
    }
}
