//! The files the site starts from: nats.conf and mkube's config (one network, soak.lo).

use super::processes::Site;
use anyhow::{Context, Result};

pub const NAMESPACE: &str = "soak";
pub const NETWORK: &str = "soak";
pub const ZONE: &str = "soak.lo";
pub const BRIDGE: &str = "bridge-soak";
pub const GATEWAY: &str = "127.46.0.1";
pub const DEVICE_PASSWORD: &str = "soak";
/// `storage.configMapPath`, under the site's directory (on the device's disk).
pub const CONFIGMAP_DIR: &str = "device/raid1/mkube/configmaps";

/// Writes nats.conf and mkube.yaml into the site's directory and creates its folders.
pub fn write(site: &Site) -> Result<()> {
    write_with_token(site, None)
}

/// [`write`], with `api.tokenFile` set when `token_file` is given.
pub fn write_with_token(site: &Site, token_file: Option<&std::path::Path>) -> Result<()> {
    let d = &site.dir;
    for sub in [
        "nats",
        "device/raid1/cache",
        "device/raid1/mkube",
        "registry",
    ] {
        std::fs::create_dir_all(d.join(sub)).with_context(|| format!("creating {sub}"))?;
    }
    std::fs::write(d.join("nats.conf"), nats_conf(site)).context("writing nats.conf")?;
    let mut yaml = mkube_yaml(site);
    if let Some(token) = token_file {
        yaml = yaml.replace(
            "api:\n",
            &format!("api:\n  tokenFile: \"{}\"\n", token.display()),
        );
    }
    std::fs::write(d.join("mkube.yaml"), yaml).context("writing mkube.yaml")?;
    Ok(())
}

/// Single-node durability: every acknowledged write fsynced (README, "NATS").
fn nats_conf(site: &Site) -> String {
    format!(
        "listen: 127.0.0.1:{}\nhttp: 127.0.0.1:{}\njetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n}}\n",
        site.ports.nats,
        site.ports.nats_http,
        site.dir.join("nats").display()
    )
}

fn mkube_yaml(site: &Site) -> String {
    let d = site.dir.display();
    let p = &site.ports;
    format!(
        r#"# mkube-soak: loopback only.
nodeName: soak
standalone: true
backend: routeros
routeros:
  address: "127.0.0.1:{device}"
  restUrl: "http://127.0.0.1:{device}/rest"
  user: admin
  password: {DEVICE_PASSWORD}
  useTLS: false
networks:
  - name: {NETWORK}
    bridge: {BRIDGE}
    cidr: "127.46.0.0/24"
    gateway: "{GATEWAY}"
    ipamStart: "127.46.0.100"
    ipamEnd: "127.46.0.199"
    dns:
      endpoint: "http://127.0.0.1:{dns}"
      zone: {ZONE}
      server: "127.46.0.252"
      staticRecords: []
storage:
  basePath: /raid1/images
  tarballCache: {d}/device/raid1/cache
  selfRootDir: ""
  persistentMounts:
    - {{containerPath: {d}/device/raid1/cache, hostPath: raid1/cache}}
    - {{containerPath: {d}/device/raid1/mkube, hostPath: raid1/mkube}}
  configMapPath: {d}/{CONFIGMAP_DIR}
  gcIntervalMinutes: 0
lifecycle:
  bootManifestPath: ""
  reconcileIntervalSeconds: 5
  watchdogIntervalSeconds: 5
registry:
  enabled: false
  localAddresses: ["127.0.0.1:{registry}"]
logging: {{enabled: false, url: ""}}
nats:
  url: "nats://127.0.0.1:{nats}"
  stream: MKUBE_EVENTS
  replicas: 1
  snapshotEvery: 1000
api:
  listen: "127.0.0.1:{api}"
consistency:
  repair: true
  delaySeconds: 2
  reportMaxAgeSeconds: 1
update:
  listen: ""
"#,
        device = p.device,
        dns = p.dns_rest,
        registry = p.registry,
        nats = p.nats,
        api = p.api,
    )
}
