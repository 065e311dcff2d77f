//! The configuration files the installer puts on the device (images.md §6.2 step 4): the
//! registry's config and TLS pair, mkube-update's config and CA, mkube's CA (and its config and
//! boot manifest when given), and the NATS config of the log's home. Rendered from the options,
//! so the same options always give the same bytes and a re-run finds nothing to change.

use serde::Serialize;

use super::certs::SiteCerts;
use super::layout::{self, files};
use super::options::{EDGE, InstallOptions, SITE_IMAGES, image_ref};

/// One file to have on the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredFile {
    /// Device path, no leading `/`.
    pub path: String,
    pub contents: Vec<u8>,
    /// Written only when the device has no file there (a default that a file put there by
    /// hand or by an earlier `--boot-order` must not replace).
    pub keep_existing: bool,
}

/// The boot manifest installed when `--boot-order` is not given: no pods, but a file that
/// loads, so mkube knows its desired set is complete (the consistency checker sweeps nothing
/// while a configured manifest is missing, L-1 (a)).
pub const EMPTY_BOOT_ORDER: &str = "# mkube's boot manifest (controller.md §1.3), written by mkube-installer.\n\
# No pods: the installer owns the registry, NATS and mkube-update. Add here the pods that\n\
# must run before mkube's log can record them (e.g. one microdns per network).\n";

/// Every file the installer may write, present or not (for the one file listing).
pub fn all_paths() -> Vec<String> {
    vec![
        files::registry_config(),
        files::registry_cert(),
        files::registry_key(),
        files::updater_config(),
        files::updater_ca(),
        files::mkube_ca(),
        files::mkube_config(),
        files::mkube_boot_order(),
        files::nats_config(),
        files::updater_record(),
    ]
}

/// The files this run wants, with their contents.
pub fn desired(o: &InstallOptions, certs: &SiteCerts) -> Result<Vec<DesiredFile>, String> {
    let text = |path: String, s: String| DesiredFile {
        path,
        contents: s.into_bytes(),
        keep_existing: false,
    };
    let mut out = vec![
        text(files::registry_config(), registry_config(o)?),
        text(files::registry_cert(), certs.cert_pem.clone()),
        text(files::registry_key(), certs.key_pem.clone()),
        text(files::updater_config(), updater_config(o)?),
        text(files::updater_ca(), certs.ca_pem.clone()),
        text(files::mkube_ca(), certs.ca_pem.clone()),
        text(files::nats_config(), nats_config(o)),
    ];
    for (local, path) in [
        (&o.mkube_config, files::mkube_config()),
        (&o.boot_order, files::mkube_boot_order()),
    ] {
        if let Some(local) = local {
            let contents = std::fs::read(local)
                .map_err(|e| format!("cannot read {}: {e}", local.display()))?;
            out.push(DesiredFile {
                path,
                contents,
                keep_existing: false,
            });
        }
    }
    if o.boot_order.is_none() {
        out.push(DesiredFile {
            keep_existing: true,
            ..text(files::mkube_boot_order(), EMPTY_BOOT_ORDER.to_string())
        });
    }
    Ok(out)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RegistryFile {
    listen_addr: String,
    store_path: &'static str,
    tls_cert_file: &'static str,
    tls_key_file: &'static str,
    #[serde(rename = "notifyURL")]
    notify_url: String,
    pull_through: bool,
    upstream_registries: Vec<String>,
    watch_poll_seconds: u64,
    watch_images: Vec<WatchImage>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WatchImage {
    upstream: String,
    local_repo: String,
}

const HEADER: &str = "# Written by mkube-installer; a re-run rewrites it from its flags.\n";

fn yaml<T: Serialize>(value: &T) -> Result<String, String> {
    serde_yaml_ng::to_string(value)
        .map(|s| format!("{HEADER}{s}"))
        .map_err(|e| format!("yaml: {e}"))
}

/// `/etc/registry/config.yaml`: TLS on the registry's own address, push notifications to
/// mkube, pull-through and a watch of the site images upstream (not derived from `--seed`).
pub fn registry_config(o: &InstallOptions) -> Result<String, String> {
    let host = o.upstream.split('/').next().unwrap_or_default().to_string();
    yaml(&RegistryFile {
        listen_addr: o.registry_host(),
        store_path: "/raid1/registry",
        tls_cert_file: "/etc/registry/tls.crt",
        tls_key_file: "/etc/registry/tls.key",
        notify_url: format!("http://{}:8082/api/v1/registry/push-notify", o.mkube_ip),
        pull_through: true,
        upstream_registries: vec![host],
        watch_poll_seconds: 120,
        watch_images: SITE_IMAGES
            .iter()
            .map(|n| WatchImage {
                upstream: image_ref(&o.upstream, n),
                local_repo: n.to_string(),
            })
            .collect(),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UpdaterFile {
    #[serde(rename = "registryURL")]
    registry_url: String,
    #[serde(rename = "routerosURL")]
    routeros_url: String,
    routeros_user: String,
    routeros_password: String,
    #[serde(rename = "mkubeAPI")]
    mkube_api: String,
    poll_seconds: u64,
    /// Its own address only: containers share the device's addresses (and, in the simulator,
    /// the host's), so `0.0.0.0:8081` would claim the port on every one of them.
    listen: String,
    bootstrap: Bootstrap,
    watches: Vec<Watch>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bootstrap {
    enabled: bool,
    image: String,
    container: BootstrapContainer,
    self_root_dir: String,
    tarball_dir: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BootstrapContainer {
    name: &'static str,
    interface: &'static str,
    root_dir: String,
    hostname: &'static str,
    dns: String,
    logging: bool,
    start_on_boot: bool,
    mount_lists: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Watch {
    repo: &'static str,
    tags: Vec<&'static str>,
    container: &'static str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    self_update: bool,
}

/// What mkube-update watches: repository in the device's registry, container, self-update.
pub const WATCHED: [(&str, &str, bool); 4] = [
    ("mkube", layout::MKUBE, false),
    ("mkube-update", layout::UPDATER, true),
    ("mkube-registry", layout::REGISTRY, false),
    ("nats", layout::NATS, false),
];

/// `/etc/mkube-update/config.yaml` (§5.1): the local registry over TLS, the router as the
/// containers reach it, the bootstrap of mkube, and watches for every container the installer
/// or mkube-update owns (mkube, itself, the registry, NATS). mkube's own pods (DNS) follow
/// pushes through mkube's auto-update instead, so their intent stays in mkube's log.
pub fn updater_config(o: &InstallOptions) -> Result<String, String> {
    let watch = |repo, container, self_update| Watch {
        repo,
        tags: vec![EDGE, "latest"],
        container,
        self_update,
    };
    yaml(&UpdaterFile {
        registry_url: format!("https://{}", o.registry_host()),
        routeros_url: o.container_rest_url.clone(),
        routeros_user: o.ros_user.clone(),
        routeros_password: o.ros_password.clone(),
        mkube_api: format!("http://{}:8080", o.mkube_ip),
        poll_seconds: 60,
        listen: format!("{}:8081", o.mkube_update_ip),
        bootstrap: Bootstrap {
            enabled: true,
            image: image_ref(&o.upstream, "mkube"),
            container: BootstrapContainer {
                name: layout::MKUBE,
                interface: layout::MKUBE_VETH,
                root_dir: layout::root_dir(layout::MKUBE),
                hostname: layout::MKUBE,
                dns: o.dns.clone(),
                logging: true,
                start_on_boot: true,
                mount_lists: layout::lists_of(layout::MKUBE).join(","),
            },
            self_root_dir: crate::routeros::normalize_path(&layout::root_dir(layout::UPDATER))
                .to_string(),
            tarball_dir: "/data",
        },
        watches: WATCHED
            .iter()
            .map(|&(repo, container, self_update)| watch(repo, container, self_update))
            .collect(),
    })
}

/// `/etc/nats/nats.conf`: listens on its own address only, JetStream in the mounted `/data`,
/// every acknowledged write synced first (the durability mkube's log relies on).
pub fn nats_config(o: &InstallOptions) -> String {
    format!(
        "# Written by mkube-installer: the home of mkube's event log.\n\
         listen: {ip}:4222\n\
         http: {ip}:8222\n\
         jetstream {{\n  store_dir: /data\n  sync_interval: always\n}}\n",
        ip = o.nats_ip
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_config_parses_as_the_registry_reads_it() {
        let o = InstallOptions::reference("http://192.168.200.1/rest");
        let text = registry_config(&o).unwrap();
        let c = crate::registry::config::RegistryConfig::parse(&text).unwrap();
        assert_eq!(c.listen_addr, "192.168.200.3:5000");
        assert_eq!(
            c.notify_url,
            "http://192.168.200.2:8082/api/v1/registry/push-notify"
        );
        assert!(c.pull_through);
        assert_eq!(c.upstream_registries, ["ghcr.io"]);
        assert_eq!(c.watch_images.len(), 11);
        assert_eq!(c.watch_images[0].local_repo, "mkube");
        assert_eq!(c.watch_images[0].upstream, "ghcr.io/glennswest/mkube:edge");
    }

    #[test]
    fn updater_config_has_the_spec_keys() {
        let o = InstallOptions::reference("http://192.168.200.1/rest");
        let v: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&updater_config(&o).unwrap()).unwrap();
        assert_eq!(
            v["registryURL"].as_str(),
            Some("https://192.168.200.3:5000")
        );
        assert_eq!(v["routerosURL"].as_str(), Some("http://192.168.200.1/rest"));
        assert_eq!(v["mkubeAPI"].as_str(), Some("http://192.168.200.2:8080"));
        assert_eq!(v["listen"].as_str(), Some("192.168.200.5:8081"));
        let c = &v["bootstrap"]["container"];
        assert_eq!(c["name"].as_str(), Some("kube.gt.lo"));
        assert_eq!(
            c["mountLists"].as_str(),
            Some("kube.gt.lo.config,kube.gt.lo.registry,kube.gt.lo.cache,kube.gt.lo.data")
        );
        assert_eq!(
            v["bootstrap"]["selfRootDir"].as_str(),
            Some("raid1/images/mkube-update-updater")
        );
        assert_eq!(v["watches"][1]["selfUpdate"].as_bool(), Some(true));
        assert_eq!(v["watches"][3]["container"].as_str(), Some("nats.gt.lo"));
    }

    #[test]
    fn same_options_same_bytes() {
        let o = InstallOptions::reference("http://192.168.200.1/rest");
        assert_eq!(updater_config(&o), updater_config(&o));
        assert!(nats_config(&o).contains("listen: 192.168.200.10:4222"));
    }
}
