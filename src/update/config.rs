//! mkube-update's configuration (images.md §5.1): `/etc/mkube-update/config.yaml`, or the file
//! named by `MKUBE_UPDATE_CONFIG`, or `--config`. camelCase keys; every key has a default, so a
//! partial file only overrides what it names. Keys beyond §5.1 are marked "extension".

use serde::{Deserialize, Deserializer};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the configuration is read from when neither `--config` nor the env names a file.
pub const DEFAULT_PATH: &str = "/etc/mkube-update/config.yaml";
/// The environment variable naming the configuration file.
pub const ENV_PATH: &str = "MKUBE_UPDATE_CONFIG";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateConfig {
    /// The local registry; its `host:port` prefixes every image reference.
    #[serde(rename = "registryURL")]
    pub registry_url: String,
    /// RouterOS REST base (Basic auth).
    #[serde(rename = "routerosURL")]
    pub routeros_url: String,
    pub routeros_user: String,
    pub routeros_password: String,
    /// mkube's update API (self-update goes through it).
    #[serde(rename = "mkubeAPI")]
    pub mkube_api: String,
    /// Poll interval; ≤ 0 means 60.
    pub poll_seconds: i64,
    pub bootstrap: BootstrapConfig,
    pub watches: Vec<Watch>,
    /// Registry CA (missing → certificates are not checked, logged).
    #[serde(rename = "registryCACert")]
    pub registry_ca_cert: String,
    /// Extension: `/healthz` and the update endpoint (default `0.0.0.0:8081`).
    pub listen: String,
    /// Extension: the persistent data directory: the record of deployed digests, failure
    /// counts, the swap mark and staged tarballs (scratch images have no `/tmp`).
    pub data_dir: String,
    /// Extension: the registry's push event stream; empty = `http://<registry host>:5001/events`,
    /// `off` = poll only.
    #[serde(rename = "eventsURL")]
    pub events_url: String,
    /// Extension: how long a new container must stay running before a swap counts (15 s).
    pub health_seconds: f64,
    /// Extension: start attempts of a new image before rolling back (3).
    pub start_retries: u32,
    /// Extension: failed swaps of one digest after which it is left alone (3).
    pub max_failures: u32,
    /// Extension: the platform pulled for pre-staged tarballs (`arm64`).
    pub arch: String,
    /// Extension: this updater's own container (self-update goes through mkube's API).
    pub self_container: String,
    /// Extension, tests only: time scale of the RouterOS client's schedules and of the health
    /// watch (1 = real time).
    pub pacing: f64,
}

impl Default for UpdateConfig {
    fn default() -> Self {
        UpdateConfig {
            registry_url: "https://192.168.200.3:5000".into(),
            routeros_url: "http://192.168.200.1/rest".into(),
            routeros_user: "mkube".into(),
            routeros_password: "mkube-rest".into(),
            mkube_api: "http://192.168.200.2:8080".into(),
            poll_seconds: 60,
            bootstrap: BootstrapConfig::default(),
            watches: Vec::new(),
            registry_ca_cert: "/etc/mkube-update/registry-ca.crt".into(),
            listen: "0.0.0.0:8081".into(),
            data_dir: "/data".into(),
            events_url: String::new(),
            health_seconds: 15.0,
            start_retries: 3,
            max_failures: 3,
            arch: "arm64".into(),
            self_container: "mkube-update-updater".into(),
            pacing: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BootstrapConfig {
    pub enabled: bool,
    /// Rewritten to the local registry before use (§5.4).
    pub image: String,
    pub container: ContainerConfig,
    /// The updater's own root-dir on the device (`raid1/images/mkube-update-updater`).
    pub self_root_dir: String,
    /// Where pre-staged tarballs are written inside the updater (`/data`).
    pub tarball_dir: String,
    /// Extension: the device path of `tarballDir` (its mount's `src`); empty =
    /// `selfRootDir + tarballDir`.
    pub tarball_device_dir: String,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            enabled: true,
            image: "glennswest/mkube:edge".into(),
            container: ContainerConfig::default(),
            self_root_dir: "raid1/images/mkube-update-updater".into(),
            tarball_dir: "/data".into(),
            tarball_device_dir: "raid1/volumes/mkube-update-updater/data".into(),
        }
    }
}

/// The bootstrap container's fields (§5.1).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerConfig {
    pub name: String,
    pub interface: String,
    pub root_dir: String,
    pub hostname: String,
    pub dns: String,
    #[serde(deserialize_with = "yes_no")]
    pub logging: bool,
    #[serde(deserialize_with = "yes_no")]
    pub start_on_boot: bool,
    /// Comma list or YAML list.
    #[serde(deserialize_with = "list")]
    pub mount_lists: Vec<String>,
    #[serde(deserialize_with = "list")]
    pub env_lists: Vec<String>,
    pub cmd: String,
    pub user: String,
}

impl Default for ContainerConfig {
    fn default() -> Self {
        ContainerConfig {
            name: "kube.gt.lo".into(),
            interface: "veth-mkube".into(),
            root_dir: "/raid1/images/kube.gt.lo".into(),
            hostname: "kube.gt.lo".into(),
            dns: "192.168.200.199".into(),
            logging: true,
            start_on_boot: true,
            mount_lists: [
                "kube.gt.lo.config",
                "kube.gt.lo.registry",
                "kube.gt.lo.cache",
                "kube.gt.lo.data",
            ]
            .map(String::from)
            .to_vec(),
            env_lists: Vec::new(),
            cmd: String::new(),
            user: String::new(),
        }
    }
}

/// One watched repository (§5.1).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Watch {
    pub repo: String,
    /// Preference order; the first tag that exists wins.
    pub tags: Vec<String>,
    /// Legacy single tag.
    pub tag: String,
    pub container: String,
    pub containers: Vec<String>,
    /// Replace through mkube's update API (the updater's own container).
    pub self_update: bool,
    pub rolling: bool,
    /// Duration text (`5s`, `500ms`, `1m`); default 5 s.
    pub rolling_delay: String,
    /// Extension: swap from a pre-staged tarball (§5.5); default on for `mkube-registry`.
    pub tarball: Option<bool>,
}

impl Default for Watch {
    fn default() -> Self {
        Watch {
            repo: String::new(),
            tags: Vec::new(),
            tag: String::new(),
            container: String::new(),
            containers: Vec::new(),
            self_update: false,
            rolling: false,
            rolling_delay: "5s".into(),
            tarball: None,
        }
    }
}

impl Watch {
    /// `tags`, else `[tag]`, else `[latest]`.
    pub fn tag_preference(&self) -> Vec<String> {
        if !self.tags.is_empty() {
            self.tags.clone()
        } else if !self.tag.is_empty() {
            vec![self.tag.clone()]
        } else {
            vec!["latest".into()]
        }
    }

    /// `containers`, else `[container]`.
    pub fn targets(&self) -> Vec<String> {
        if !self.containers.is_empty() {
            self.containers.clone()
        } else if !self.container.is_empty() {
            vec![self.container.clone()]
        } else {
            Vec::new()
        }
    }

    pub fn rolling_delay(&self) -> Duration {
        parse_duration(&self.rolling_delay).unwrap_or(Duration::from_secs(5))
    }

    /// The registry cannot pull its own replacement: its watch swaps from a tarball.
    pub fn uses_tarball(&self) -> bool {
        self.tarball
            .unwrap_or_else(|| self.repo.rsplit('/').next() == Some("mkube-registry"))
    }
}

impl UpdateConfig {
    pub fn poll_interval(&self) -> Duration {
        let secs = if self.poll_seconds <= 0 {
            60
        } else {
            self.poll_seconds
        };
        Duration::from_secs(secs as u64)
    }

    /// `host:port` of `registryURL`, the prefix of every image reference.
    pub fn registry_host(&self) -> String {
        let (_, rest) = crate::oci::reference::split_scheme(&self.registry_url);
        rest.trim_end_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .to_string()
    }

    /// The event stream URL, or `None` when polling only.
    pub fn events_url(&self) -> Option<String> {
        match self.events_url.trim() {
            "off" => None,
            "" => {
                let host = self.registry_host();
                let ip = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
                Some(format!("http://{ip}:5001/events"))
            }
            url => Some(url.to_string()),
        }
    }

    /// The device path of the tarball directory.
    pub fn tarball_device_dir(&self) -> String {
        let b = &self.bootstrap;
        if !b.tarball_device_dir.is_empty() {
            return crate::routeros::normalize_path(&b.tarball_device_dir).to_string();
        }
        format!(
            "{}/{}",
            crate::routeros::normalize_path(&b.self_root_dir).trim_end_matches('/'),
            b.tarball_dir.trim_matches('/')
        )
    }

    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(&self.data_dir)
    }

    /// Problems that make the configuration unusable.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.registry_host().is_empty() {
            out.push(format!("registryURL {:?} has no host", self.registry_url));
        }
        if self.routeros_url.trim().is_empty() {
            out.push("routerosURL is empty".into());
        }
        if self.data_dir.trim().is_empty() {
            out.push("dataDir is empty".into());
        }
        for (i, w) in self.watches.iter().enumerate() {
            if w.repo.trim().is_empty() {
                out.push(format!("watches[{i}]: repo is empty"));
            }
            if w.targets().is_empty() {
                out.push(format!("watches[{i}] ({}): no container", w.repo));
            }
            if parse_duration(&w.rolling_delay).is_none() {
                out.push(format!(
                    "watches[{i}] ({}): rollingDelay {:?} is not a duration",
                    w.repo, w.rolling_delay
                ));
            }
        }
        out
    }
}

/// Reads and checks a configuration file.
pub fn load(path: &Path) -> Result<UpdateConfig, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("config {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("config {}: {e}", path.display()))
}

/// Parses and checks configuration text.
pub fn parse(text: &str) -> Result<UpdateConfig, String> {
    let cfg: UpdateConfig = if text.trim().is_empty() {
        UpdateConfig::default()
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?
    };
    let problems = cfg.problems();
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(problems.join("; "))
    }
}

/// `--config`, else `MKUBE_UPDATE_CONFIG`, else the default path.
pub fn path_from(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os(ENV_PATH).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
}

/// `5s`, `500ms`, `1m`, `1m30s`, `2h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(secs) = t.parse::<f64>() {
        return (secs >= 0.0 && secs.is_finite()).then(|| Duration::from_secs_f64(secs));
    }
    let mut total = 0.0;
    let mut rest = t;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * unit;
        rest = &rest[u..];
    }
    Some(Duration::from_secs_f64(total))
}

fn yes_no<'de, D: Deserializer<'de>>(de: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Text(String),
    }
    Ok(match B::deserialize(de)? {
        B::Bool(b) => b,
        B::Text(t) => crate::routeros::parse_bool(&t),
    })
}

fn list<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum L {
        List(Vec<String>),
        Text(String),
    }
    Ok(match L::deserialize(de)? {
        L::List(v) => v,
        L::Text(t) => t
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_rose1() {
        let c = parse("").unwrap();
        assert_eq!(c.registry_host(), "192.168.200.3:5000");
        assert_eq!(
            c.events_url().as_deref(),
            Some("http://192.168.200.3:5001/events")
        );
        assert_eq!(c.poll_interval(), Duration::from_secs(60));
        assert_eq!(c.bootstrap.container.mount_lists.len(), 4);
        assert_eq!(
            c.tarball_device_dir(),
            "raid1/volumes/mkube-update-updater/data"
        );
    }

    #[test]
    fn watch_keys_and_legacy_tag() {
        let c = parse(
            "registryURL: http://127.0.0.1:5000\npollSeconds: 0\nbootstrap:\n  container:\n    mountLists: a, b\n    logging: \"yes\"\n    startOnBoot: no\nwatches:\n  - repo: mkube\n    tag: edge\n    container: kube.gt.lo\n  - repo: microdns\n    containers: [a, b]\n    rolling: true\n    rollingDelay: 1m30s\n  - repo: mkube-registry\n    container: registry.gt.lo\n",
        )
        .unwrap();
        assert_eq!(c.poll_interval(), Duration::from_secs(60));
        assert_eq!(c.bootstrap.container.mount_lists, vec!["a", "b"]);
        assert!(!c.bootstrap.container.start_on_boot);
        assert_eq!(c.watches[0].tag_preference(), vec!["edge"]);
        assert_eq!(c.watches[1].tag_preference(), vec!["latest"]);
        assert_eq!(c.watches[1].targets(), vec!["a", "b"]);
        assert_eq!(c.watches[1].rolling_delay(), Duration::from_secs(90));
        assert!(c.watches[2].uses_tarball() && !c.watches[0].uses_tarball());
    }

    #[test]
    fn bad_input_is_named() {
        let e = parse("watches:\n  - repo: x\n").unwrap_err();
        assert!(e.contains("no container"), "{e}");
        let e =
            parse("watches:\n  - repo: x\n    container: y\n    rollingDelay: soon\n").unwrap_err();
        assert!(e.contains("rollingDelay"), "{e}");
        assert!(parse("pollSeconds: [").is_err());
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("5x"), None);
    }
}
