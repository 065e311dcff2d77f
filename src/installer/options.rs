//! What the installer is asked to do: the flags of images.md §6.1 as plain data, with the
//! reference site's values as defaults (data only; the demo and the tests pass loopback ones).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The upstream the reference site's CI publishes to (`<upstream>` in the spec), with the
/// project's namespace. Plain configuration: `--upstream` replaces it.
pub const REFERENCE_UPSTREAM: &str = "ghcr.io/glennswest";

/// The images seeded by default (§6.1) and watched by the registry (§6.2 step 4), all `:edge`.
pub const SITE_IMAGES: [&str; 11] = [
    "mkube",
    "mkube-update",
    "mkube-registry",
    "microdns",
    "nats",
    "micrologs",
    "micrologs-collector-routeros",
    "ipmiserial",
    "mkube-console",
    "agent-monitor",
    "fastregistry",
];

/// The tag every site image is published under.
pub const EDGE: &str = "edge";

/// Everything one installer run needs.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// RouterOS REST base, e.g. `http://192.168.200.1/rest`.
    pub rest_url: String,
    pub ros_user: String,
    pub ros_password: String,
    /// Accept the device's self-signed HTTPS certificate.
    pub rest_insecure: bool,
    /// Where upstream images live: `host[:port][/namespace]`.
    pub upstream: String,
    pub registry_ip: Ipv4Addr,
    /// The registry's OCI port (5000); management is the next port (5001).
    pub registry_port: u16,
    /// What the device pulls the registry container from (§6.2 step 5).
    pub registry_image: String,
    pub bridge: String,
    pub gateway: Ipv4Addr,
    pub dns: String,
    pub mkube_ip: Ipv4Addr,
    pub mkube_update_ip: Ipv4Addr,
    /// Address of the NATS container that holds mkube's log.
    pub nats_ip: Ipv4Addr,
    /// Prefix length of the infra veths' addresses (24).
    pub prefix_len: u8,
    /// Full upstream references to copy into the device's registry.
    pub seeds: Vec<String>,
    /// Platform architecture picked from an index when seeding (`arm64` on the reference site).
    pub arch: String,
    pub rotate_certs: bool,
    pub refresh_seeds: bool,
    /// The device's REST API as the containers reach it (mkube-update's `routerosURL`).
    pub container_rest_url: String,
    /// mkube's device configuration and boot manifest, installed when given.
    pub mkube_config: Option<PathBuf>,
    pub boot_order: Option<PathBuf>,
    /// Where the installer serves files the device fetches (`/tool/fetch`); port 0 = any.
    pub serve_address: Option<SocketAddr>,
    /// How long the registry gets to answer `GET /v2/` after it runs (120 s).
    pub health_timeout: Duration,
    /// How long an image extraction may take (300 s).
    pub extract_timeout: Duration,
}

impl InstallOptions {
    /// The reference site's values (images.md §1.1, §6.1) for the device at `rest_url`.
    pub fn reference(rest_url: impl Into<String>) -> InstallOptions {
        let upstream = REFERENCE_UPSTREAM.to_string();
        let gateway = Ipv4Addr::new(192, 168, 200, 1);
        InstallOptions {
            rest_url: rest_url.into(),
            ros_user: "mkube".into(),
            ros_password: "mkube-rest".into(),
            rest_insecure: true,
            registry_ip: Ipv4Addr::new(192, 168, 200, 3),
            registry_port: 5000,
            registry_image: image_ref(&upstream, "mkube-registry"),
            seeds: SITE_IMAGES
                .iter()
                .map(|n| image_ref(&upstream, n))
                .collect(),
            upstream,
            bridge: "bridge-gt".into(),
            gateway,
            dns: "192.168.200.199".into(),
            mkube_ip: Ipv4Addr::new(192, 168, 200, 2),
            mkube_update_ip: Ipv4Addr::new(192, 168, 200, 5),
            nats_ip: Ipv4Addr::new(192, 168, 200, 10),
            prefix_len: 24,
            arch: "arm64".into(),
            rotate_certs: false,
            refresh_seeds: false,
            container_rest_url: format!("http://{gateway}/rest"),
            mkube_config: None,
            boot_order: None,
            serve_address: None,
            health_timeout: Duration::from_secs(120),
            extract_timeout: Duration::from_secs(300),
        }
    }

    /// `host:port` of the device's registry.
    pub fn registry_host(&self) -> String {
        format!("{}:{}", self.registry_ip, self.registry_port)
    }

    /// The device-registry reference of a site image: `<registry>/<name>:edge`.
    pub fn local_ref(&self, name: &str) -> String {
        format!("{}/{name}:{EDGE}", self.registry_host())
    }

    /// Checks what flags alone cannot: distinct addresses, a plausible prefix, seeds that parse.
    pub fn validate(&self) -> Result<(), String> {
        let ips = [
            ("--registry-ip", self.registry_ip),
            ("--mkube-ip", self.mkube_ip),
            ("--mkube-update-ip", self.mkube_update_ip),
            ("--nats-ip", self.nats_ip),
        ];
        for (i, (a, ip)) in ips.iter().enumerate() {
            if let Some((b, _)) = ips[i + 1..].iter().find(|(_, other)| other == ip) {
                return Err(format!(
                    "{a} and {b} are both {ip}; every container needs its own"
                ));
            }
            if ip.is_unspecified() || ip.is_broadcast() {
                return Err(format!("{a} {ip} is not a host address"));
            }
        }
        if !(8..=30).contains(&self.prefix_len) {
            return Err(format!("--prefix-len {} is outside 8..30", self.prefix_len));
        }
        if self.bridge.trim().is_empty() {
            return Err("--bridge is empty".into());
        }
        if self.upstream.trim().is_empty() {
            return Err("--upstream is empty".into());
        }
        for s in self.seeds.iter().chain([&self.registry_image]) {
            crate::oci::reference::parse(s, "")
                .map_err(|_| format!("{s:?} is not an image reference (host/repo:tag)"))?;
        }
        let names: Vec<String> = self.seeds.iter().map(|s| short_name(s)).collect();
        for needed in ["nats", "mkube-update", "mkube"] {
            if !names.iter().any(|n| n == needed) {
                return Err(format!(
                    "--seed must include {needed} (the device's containers are created from the seeded images)"
                ));
            }
        }
        if !(self.rest_url.starts_with("http://") || self.rest_url.starts_with("https://")) {
            return Err(format!(
                "REST URL {:?} must start with http:// or https://",
                self.rest_url
            ));
        }
        Ok(())
    }
}

/// `<upstream>/<name>:edge`.
pub fn image_ref(upstream: &str, name: &str) -> String {
    format!("{}/{name}:{EDGE}", upstream.trim_end_matches('/'))
}

/// A `--seed` entry: a full reference as is; a bare name (no `/`) under the upstream, `:edge`.
pub fn seed_ref(upstream: &str, entry: &str) -> String {
    let entry = entry.trim();
    if entry.contains('/') {
        entry.to_string()
    } else if entry.contains(':') {
        format!("{}/{entry}", upstream.trim_end_matches('/'))
    } else {
        image_ref(upstream, entry)
    }
}

/// The last path component of a reference without tag or digest: the short name under which
/// the device's registry holds it (`ghcr.io/glennswest/mkube:edge` → `mkube`).
pub fn short_name(reference: &str) -> String {
    let parts = crate::oci::reference::split(reference);
    parts
        .name
        .rsplit('/')
        .next()
        .unwrap_or(parts.name)
        .to_string()
}

/// The tag of a reference (`edge` when it has none or is pinned by digest).
pub fn tag_of(reference: &str) -> String {
    crate::oci::reference::split(reference)
        .tag
        .unwrap_or(EDGE)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_defaults_follow_the_spec() {
        let o = InstallOptions::reference("http://192.168.200.1/rest");
        assert_eq!(o.registry_host(), "192.168.200.3:5000");
        assert_eq!(o.seeds.len(), 11);
        assert_eq!(o.registry_image, "ghcr.io/glennswest/mkube-registry:edge");
        assert_eq!(o.container_rest_url, "http://192.168.200.1/rest");
        o.validate().unwrap();
    }

    #[test]
    fn seeds_and_names() {
        assert_eq!(
            seed_ref("127.0.0.1:5999", "nats"),
            "127.0.0.1:5999/nats:edge"
        );
        assert_eq!(seed_ref("up:1/ns", "nats:1"), "up:1/ns/nats:1");
        assert_eq!(seed_ref("x", "other:5000/a/b:c"), "other:5000/a/b:c");
        assert_eq!(short_name("ghcr.io/glennswest/mkube:edge"), "mkube");
        assert_eq!(short_name("127.0.0.1:5000/nats"), "nats");
        assert_eq!(tag_of("127.0.0.1:5000/nats:2"), "2");
        assert_eq!(tag_of("127.0.0.1:5000/nats"), "edge");
    }

    #[test]
    fn refuses_shared_addresses() {
        let mut o = InstallOptions::reference("http://192.168.200.1/rest");
        o.nats_ip = o.registry_ip;
        assert!(
            o.validate()
                .unwrap_err()
                .contains("--registry-ip and --nats-ip")
        );
        let mut o = InstallOptions::reference("ftp://x");
        o.seeds = vec!["UPPER CASE".into()];
        assert!(o.validate().is_err());
    }
}
