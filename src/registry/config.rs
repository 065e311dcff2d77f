//! `mkube-registry` configuration file (spec images.md §2.1).

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WatchImage {
    pub upstream: String,
    #[serde(rename = "localRepo")]
    pub local_repo: String,
}

/// The YAML keys of §2.1 with their defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RegistryConfig {
    pub listen_addr: String,
    pub store_path: PathBuf,
    pub tls_cert_file: PathBuf,
    pub tls_key_file: PathBuf,
    #[serde(rename = "tlsCACertFile")]
    pub tls_ca_cert_file: Option<PathBuf>,
    #[serde(rename = "notifyURL")]
    pub notify_url: String,
    pub pull_through: bool,
    pub upstream_registries: Vec<String>,
    pub watch_images: Vec<WatchImage>,
    pub watch_poll_seconds: u64,
    pub local_addresses: Vec<String>,
    pub upstream_sync_enabled: bool,
    pub upstream_token: String,
    pub upstream_token_file: String,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            listen_addr: ":5000".into(),
            store_path: "/raid1/registry".into(),
            tls_cert_file: "/etc/registry/tls.crt".into(),
            tls_key_file: "/etc/registry/tls.key".into(),
            tls_ca_cert_file: None,
            notify_url: String::new(),
            pull_through: false,
            upstream_registries: Vec::new(),
            watch_images: Vec::new(),
            watch_poll_seconds: 120,
            local_addresses: Vec::new(),
            upstream_sync_enabled: false,
            upstream_token: String::new(),
            upstream_token_file: String::new(),
        }
    }
}

impl RegistryConfig {
    pub fn parse(text: &str) -> Result<RegistryConfig, String> {
        if text.trim().is_empty() {
            return Ok(RegistryConfig::default());
        }
        let mut c: RegistryConfig = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        if c.watch_poll_seconds < 30 {
            c.watch_poll_seconds = 120;
        }
        Ok(c)
    }

    pub fn load(path: &Path) -> Result<RegistryConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        RegistryConfig::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// `listenAddr` as a socket address (`:5000` means all interfaces).
    pub fn listen(&self) -> Result<std::net::SocketAddr, String> {
        let a = if self.listen_addr.starts_with(':') {
            format!("0.0.0.0{}", self.listen_addr)
        } else {
            self.listen_addr.clone()
        };
        a.parse()
            .map_err(|e| format!("listenAddr {:?}: {e}", self.listen_addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_keys() {
        let c = RegistryConfig::parse("").unwrap();
        assert_eq!(c.listen().unwrap().port(), 5000);
        let c = RegistryConfig::parse(
            "listenAddr: 127.0.0.1:5555\nstorePath: /tmp/x\nnotifyURL: http://127.0.0.1:1/n\nwatchPollSeconds: 5\nwatchImages:\n  - upstream: ghcr.io/a/b:latest\n    localRepo: b\n",
        )
        .unwrap();
        assert_eq!(c.listen_addr, "127.0.0.1:5555");
        assert_eq!(c.watch_poll_seconds, 120);
        assert_eq!(c.watch_images[0].local_repo, "b");
        assert!(RegistryConfig::parse("bogus: 1").is_err());
    }
}
