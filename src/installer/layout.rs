//! The site's fixed shape on the device (images.md §1.1): container names, veths, mount lists,
//! directories and the paths of configuration files. Container names carry no `_`, so mkube's
//! pod naming (and its consistency checker) never claims them.

use std::net::Ipv4Addr;

use super::options::InstallOptions;
use crate::routeros::MountSpec;

pub const REGISTRY: &str = "registry.gt.lo";
pub const UPDATER: &str = "mkube-update-updater";
pub const MKUBE: &str = "kube.gt.lo";
/// The NATS container holding mkube's log (the log's own home: see the README).
pub const NATS: &str = "nats.gt.lo";
/// A container an interrupted run of the installer itself may have left (§6.2 step 7).
pub const LEFTOVER_INSTALLER: &str = "mkube-installer";

/// The device disk every path lives on.
pub const DISK: &str = "raid1";

/// One infra veth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfraVeth {
    pub name: &'static str,
    /// `<ip>/<prefix>`.
    pub address: String,
    pub gateway: String,
}

/// One mount list with its single entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountList {
    pub list: String,
    pub mount: MountSpec,
}

/// Where each container keeps things.
pub fn root_dir(container: &str) -> String {
    format!("/{DISK}/images/{container}")
}

/// `raid1/volumes/<container>/<volume>` (device path, no leading `/`).
pub fn volume(container: &str, what: &str) -> String {
    format!("{DISK}/volumes/{container}/{what}")
}

pub fn registry_store() -> String {
    format!("{DISK}/registry")
}

pub fn tarball_cache() -> String {
    format!("{DISK}/cache")
}

/// The four infra veths: registry, mkube, mkube-update and NATS.
pub fn veths(o: &InstallOptions) -> Vec<InfraVeth> {
    let v = |name, ip: Ipv4Addr| InfraVeth {
        name,
        address: format!("{ip}/{}", o.prefix_len),
        gateway: o.gateway.to_string(),
    };
    vec![
        v("veth-registry", o.registry_ip),
        v("veth-mkube", o.mkube_ip),
        v("veth-mkube-update", o.mkube_update_ip),
        v("veth-nats", o.nats_ip),
    ]
}

pub const REGISTRY_VETH: &str = "veth-registry";
pub const MKUBE_VETH: &str = "veth-mkube";
pub const UPDATER_VETH: &str = "veth-mkube-update";
pub const NATS_VETH: &str = "veth-nats";

/// The mount lists of §1.1 plus NATS's two.
pub fn mount_lists() -> Vec<MountList> {
    let m = |list: String, src: String, dst: &str| MountList {
        list,
        mount: MountSpec::new(format!("/{src}"), dst),
    };
    vec![
        m(
            format!("{REGISTRY}.config"),
            volume(REGISTRY, "config"),
            "/etc/registry",
        ),
        m(
            format!("{REGISTRY}.data"),
            registry_store(),
            "/raid1/registry",
        ),
        m(
            format!("{MKUBE}.config"),
            volume(MKUBE, "config"),
            "/etc/mkube",
        ),
        m(
            format!("{MKUBE}.registry"),
            registry_store(),
            "/raid1/registry",
        ),
        m(format!("{MKUBE}.cache"), tarball_cache(), "/raid1/cache"),
        m(format!("{MKUBE}.data"), volume(MKUBE, "data"), "/data"),
        m(
            format!("{UPDATER}.config"),
            volume(UPDATER, "config"),
            "/etc/mkube-update",
        ),
        m(format!("{UPDATER}.data"), volume(UPDATER, "data"), "/data"),
        m(
            format!("{NATS}.config"),
            volume(NATS, "config"),
            "/etc/nats",
        ),
        m(format!("{NATS}.data"), volume(NATS, "data"), "/data"),
    ]
}

/// The mount lists one container uses, by name prefix.
pub fn lists_of(container: &str) -> Vec<String> {
    mount_lists()
        .into_iter()
        .map(|m| m.list)
        .filter(|l| {
            l.strip_prefix(container)
                .is_some_and(|r| r.starts_with('.'))
        })
        .collect()
}

/// Every directory the site needs, parents before children (no leading `/`; the disk itself
/// is not listed: it exists or the device has no `raid1`).
pub fn directories() -> Vec<String> {
    let leaves = [
        volume(REGISTRY, "config"),
        volume(REGISTRY, "data"),
        volume(MKUBE, "config"),
        volume(MKUBE, "data/configmaps"),
        volume(UPDATER, "config"),
        volume(UPDATER, "data"),
        volume(NATS, "config"),
        volume(NATS, "data"),
        registry_store(),
        tarball_cache(),
        format!("{DISK}/tarballs"),
        format!("{DISK}/images"),
    ];
    let mut dirs: Vec<String> = Vec::new();
    for leaf in leaves {
        let parts: Vec<&str> = leaf.split('/').collect();
        for n in 2..=parts.len() {
            let d = parts[..n].join("/");
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    dirs.sort_by_key(|d| (d.matches('/').count(), d.clone()));
    dirs
}

/// Configuration files (device paths).
pub mod files {
    use super::*;

    pub fn registry_config() -> String {
        format!("{}/config.yaml", volume(REGISTRY, "config"))
    }
    pub fn registry_cert() -> String {
        format!("{}/tls.crt", volume(REGISTRY, "config"))
    }
    pub fn registry_key() -> String {
        format!("{}/tls.key", volume(REGISTRY, "config"))
    }
    pub fn updater_config() -> String {
        format!("{}/config.yaml", volume(UPDATER, "config"))
    }
    pub fn updater_ca() -> String {
        format!("{}/registry-ca.crt", volume(UPDATER, "config"))
    }
    pub fn mkube_ca() -> String {
        format!("{}/registry-ca.crt", volume(MKUBE, "config"))
    }
    pub fn mkube_config() -> String {
        format!("{}/config.yaml", volume(MKUBE, "config"))
    }
    pub fn mkube_boot_order() -> String {
        format!("{}/boot-order.yaml", volume(MKUBE, "config"))
    }
    pub fn nats_config() -> String {
        format!("{}/nats.conf", volume(NATS, "config"))
    }
    /// mkube-update's record (`/data/update-state.json` inside its container).
    pub fn updater_record() -> String {
        format!(
            "{}/{}",
            volume(UPDATER, "data"),
            crate::update::record::FILE
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_of_the_reference_site() {
        let lists = mount_lists();
        assert_eq!(lists.len(), 10);
        assert!(lists.iter().all(|l| !l.list.contains('_')));
        assert_eq!(
            lists_of(MKUBE),
            [
                "kube.gt.lo.config",
                "kube.gt.lo.registry",
                "kube.gt.lo.cache",
                "kube.gt.lo.data"
            ]
        );
        assert_eq!(
            lists_of(REGISTRY),
            ["registry.gt.lo.config", "registry.gt.lo.data"]
        );
        let dirs = directories();
        assert_eq!(dirs[0], "raid1/cache");
        assert!(dirs.contains(&"raid1/volumes/kube.gt.lo/data/configmaps".to_string()));
        let pos = |d: &str| dirs.iter().position(|x| x == d).unwrap();
        assert!(pos("raid1/volumes") < pos("raid1/volumes/kube.gt.lo"));
        let o = InstallOptions::reference("http://192.168.200.1/rest");
        let v = veths(&o);
        assert_eq!(v[0].address, "192.168.200.3/24");
        assert_eq!(v[0].gateway, "192.168.200.1");
    }
}
