//! Infra (images.md §6.2 step 3): the infra veths with their addresses, each a port of the
//! bridge; the mount lists; the directories. Each is compared with the observation first and
//! created only when absent or different (§6.4), never duplicated.

use super::layout::{self, InfraVeth};
use super::observe::Observed;
use super::options::InstallOptions;
use crate::routeros::{RosClient, RosError, normalize_path};

/// What the step changed, for its progress line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfraChanges {
    pub veths: Vec<String>,
    pub ports: Vec<String>,
    pub mounts: Vec<String>,
    pub dirs: Vec<String>,
}

impl InfraChanges {
    pub fn is_empty(&self) -> bool {
        self.veths.is_empty()
            && self.ports.is_empty()
            && self.mounts.is_empty()
            && self.dirs.is_empty()
    }

    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (what, list) in [
            ("veths", &self.veths),
            ("bridge ports", &self.ports),
            ("mounts", &self.mounts),
            ("directories", &self.dirs),
        ] {
            if !list.is_empty() {
                parts.push(format!("{what} {}", list.join(", ")));
            }
        }
        parts.join("; ")
    }
}

fn veth_matches(observed: &Observed, v: &InfraVeth) -> Option<bool> {
    let row = observed.veths.iter().find(|r| r.name == v.name)?;
    let same_ip = crate::routeros::first_ipv4_cidr(&row.address).as_deref()
        == Some(v.address.as_str())
        || row.address == v.address;
    Some(same_ip && row.gateway == v.gateway)
}

pub async fn ensure(
    client: &RosClient,
    observed: &Observed,
    o: &InstallOptions,
) -> Result<InfraChanges, RosError> {
    let mut changes = InfraChanges::default();
    for v in layout::veths(o) {
        match veth_matches(observed, &v) {
            Some(true) => {}
            Some(false) => {
                client.ensure_veth(v.name, &v.address, &v.gateway).await?;
                changes.veths.push(format!("{} (set)", v.name));
            }
            None => {
                client.add_veth(v.name, &v.address, &v.gateway).await?;
                changes.veths.push(v.name.to_string());
            }
        }
        let in_bridge = observed
            .ports
            .iter()
            .any(|p| p.interface == v.name && p.bridge == o.bridge);
        if !in_bridge {
            client.ensure_bridge_port(&o.bridge, v.name).await?;
            changes.ports.push(v.name.to_string());
        }
    }
    for m in layout::mount_lists() {
        let present = observed.mounts.iter().any(|row| {
            row.list == m.list
                && normalize_path(&row.src) == normalize_path(&m.mount.src)
                && row.dst == m.mount.dst
        });
        if !present {
            client
                .sync_mounts(&m.list, std::slice::from_ref(&m.mount))
                .await?;
            changes.mounts.push(m.list);
        }
    }
    for d in layout::directories() {
        if observed.file(&d).is_none() {
            client.add_directory(&d).await?;
            changes.dirs.push(d);
        }
    }
    Ok(changes)
}
