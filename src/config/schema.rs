//! The raw configuration schema (controller.md §8.2), as it appears in YAML.
//!
//! Every struct takes its defaults from `Default`, so a partial YAML file only
//! overrides what it names. String-typed values stay strings here; parsed
//! views live on the types themselves (see [`Network`](super::Network)) and
//! are guaranteed to succeed once [`Config::validate`] has passed.

use serde::{Deserialize, Deserializer, Serialize};

use super::network::{LegacyNetworkConfig, Network};

/// The whole controller configuration (§8.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Config {
    /// Node name; event source host.
    pub node_name: String,
    /// `true` runs the local reconciler (§5).
    pub standalone: bool,
    /// Virtual Kubelet mode only.
    pub kubeconfig: String,
    /// `""` or `routeros`; `stormbase` selects the gRPC backend.
    pub backend: String,
    pub routeros: RouterOsConfig,
    pub stormbase: StormbaseConfig,
    /// Order matters: the first network is the default network.
    pub networks: Vec<Network>,
    /// Legacy single-network block; when present it replaces `networks` (§8.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<LegacyNetworkConfig>,
    pub storage: StorageConfig,
    pub lifecycle: LifecycleConfig,
    pub registry: RegistryConfig,
    pub dzo: DzoConfig,
    pub namespace: NamespaceConfig,
    pub logging: LoggingConfig,
    pub bmh: BmhConfig,
    pub nats: NatsConfig,
    pub api: ApiConfig,
    pub consistency: ConsistencyConfig,
    /// The update API (images.md §4.6).
    pub update: UpdateApiConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node_name: "mkube-node".into(),
            standalone: false,
            kubeconfig: String::new(),
            backend: String::new(),
            routeros: RouterOsConfig::default(),
            stormbase: StormbaseConfig::default(),
            networks: vec![Network::default_containers()],
            network: None,
            storage: StorageConfig::default(),
            lifecycle: LifecycleConfig::default(),
            registry: RegistryConfig::default(),
            dzo: DzoConfig::default(),
            namespace: NamespaceConfig::default(),
            logging: LoggingConfig::default(),
            bmh: BmhConfig::default(),
            nats: NatsConfig::default(),
            api: ApiConfig::default(),
            consistency: ConsistencyConfig::default(),
            update: UpdateApiConfig::default(),
        }
    }
}

/// RouterOS device access.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RouterOsConfig {
    /// Native API address (informational for the core).
    pub address: String,
    pub rest_url: String,
    pub user: String,
    pub password: String,
    #[serde(rename = "useTLS")]
    pub use_tls: bool,
    pub ca_cert: String,
    /// Skip TLS verification of the REST API.
    pub insecure_verify: bool,
    /// Time scale of the client's retry schedules and polls (1 = real time). Only tests
    /// against an accelerated simulator set it lower.
    pub pacing: f64,
}

impl Default for RouterOsConfig {
    fn default() -> Self {
        RouterOsConfig {
            address: "192.168.200.1:8728".into(),
            rest_url: "https://192.168.200.1/rest".into(),
            user: "admin".into(),
            password: String::new(),
            use_tls: false,
            ca_cert: String::new(),
            insecure_verify: true,
            pacing: 1.0,
        }
    }
}

/// StormBase gRPC backend (out of scope for RouterOS; parsed only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StormbaseConfig {
    pub address: String,
    pub ca_cert: String,
    pub client_cert: String,
    pub client_key: String,
    pub insecure: bool,
}

/// Root dirs, tarball cache and path translation (NAME-4, NAME-5, NAME-7, NAME-8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StorageConfig {
    pub base_path: String,
    pub tarball_cache: String,
    /// mkube's own root dir as the device sees it.
    pub self_root_dir: String,
    /// Container path → device path (NAME-8); first matching prefix wins.
    pub persistent_mounts: Vec<PersistentMount>,
    /// Where mkube writes ConfigMap volume files (NAME-6), inside its own filesystem:
    /// `<configMapPath>/<container>/<volume>/<key>`; mounted at its NAME-8 path.
    pub config_map_path: String,
    pub gc_interval_minutes: u64,
    pub gc_keep_last_n: usize,
    pub gc_dry_run: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            base_path: "/raid1/images".into(),
            tarball_cache: "/raid1/cache".into(),
            self_root_dir: String::new(),
            persistent_mounts: Vec::new(),
            config_map_path: "/data/configmaps".into(),
            gc_interval_minutes: 30,
            gc_keep_last_n: 5,
            gc_dry_run: false,
        }
    }
}

/// One NAME-8 translation entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PersistentMount {
    pub container_path: String,
    pub host_path: String,
}

/// Lifecycle manager and watchdog (§7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LifecycleConfig {
    pub boot_manifest_path: String,
    /// 0 → 5 s (LC-3).
    pub watchdog_interval_seconds: u64,
    /// 0 → 5 (LC-6).
    pub max_restarts: u32,
    /// Seconds; 0 → 10 (LC-4).
    pub restart_cooldown: u64,
    /// Seconds between reconcile passes (§5); the first pass runs one interval after start.
    pub reconcile_interval_seconds: f64,
    /// First dangling bridge-port collection after start (NET-2 [F]: 90 s).
    pub dangling_ports_after_seconds: f64,
    /// Dangling bridge-port collection period (NET-2 [F]: hourly).
    pub dangling_ports_every_seconds: f64,
    /// First per-pod create back-off; doubles per failure up to `createBackoffMaxSeconds`.
    pub create_backoff_seconds: f64,
    pub create_backoff_max_seconds: f64,
    /// L-4: `OnFailed` leaves a pod alone until its device container is this old (seconds;
    /// 0 = no grace).
    pub recreate_grace_seconds: f64,
    /// LC-6: pause between stop and start of a probe restart (seconds; 0 → 2).
    pub restart_pause_seconds: f64,
    /// Staggered image rollout (images.md §4.4, L-12): how long each recreated pod may take
    /// to become live before that image's rollout halts; 0 → 120 s.
    pub rollout_live_timeout_seconds: f64,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            boot_manifest_path: "/etc/mkube/boot-order.yaml".into(),
            watchdog_interval_seconds: 5,
            max_restarts: 5,
            restart_cooldown: 10,
            reconcile_interval_seconds: 10.0,
            dangling_ports_after_seconds: 90.0,
            dangling_ports_every_seconds: 3600.0,
            create_backoff_seconds: 2.0,
            create_backoff_max_seconds: 300.0,
            recreate_grace_seconds: 300.0,
            restart_pause_seconds: 2.0,
            rollout_live_timeout_seconds: 120.0,
        }
    }
}

/// Registry settings; mkube itself uses `localAddresses`, `tlsCACertFile`
/// and `notifyURL`, the rest is read by the standalone registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegistryConfig {
    pub enabled: bool,
    pub listen_addr: String,
    pub store_path: String,
    pub tls_cert_file: String,
    pub tls_key_file: String,
    #[serde(rename = "tlsCACertFile")]
    pub tls_ca_cert_file: String,
    pub pull_through: bool,
    pub upstream_registries: Vec<String>,
    /// First entry = primary; the others (and `localhost/`) are rewritten to it.
    pub local_addresses: Vec<String>,
    #[serde(rename = "notifyURL")]
    pub notify_url: String,
    pub watch_images: Vec<WatchImage>,
    /// 0 → 120.
    pub watch_poll_seconds: u64,
    pub upstream_sync_enabled: bool,
    pub upstream_token: String,
    pub upstream_token_file: String,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            enabled: true,
            listen_addr: ":5000".into(),
            store_path: "/raid1/registry".into(),
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            tls_ca_cert_file: String::new(),
            pull_through: false,
            upstream_registries: Vec::new(),
            local_addresses: Vec::new(),
            notify_url: String::new(),
            watch_images: Vec::new(),
            watch_poll_seconds: 0,
            upstream_sync_enabled: false,
            upstream_token: String::new(),
            upstream_token_file: String::new(),
        }
    }
}

/// An upstream image the registry mirrors under a local name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WatchImage {
    pub upstream: String,
    pub local_repo: String,
}

/// Zone operator (out of scope beyond its touch points).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DzoConfig {
    pub enabled: bool,
    pub listen_addr: String,
    pub state_path: String,
    pub microdns_image: String,
    pub default_mode: String,
}

/// Namespace manager.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NamespaceConfig {
    pub state_path: String,
    pub default_mode: String,
}

/// micrologs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LoggingConfig {
    pub enabled: bool,
    pub url: String,
}

/// BareMetalHost touch points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BmhConfig {
    #[serde(rename = "pxeManagerURL")]
    pub pxe_manager_url: String,
    #[serde(rename = "dhcpLeaseURL")]
    pub dhcp_lease_url: String,
    pub watch_interval: u64,
}

impl Default for BmhConfig {
    fn default() -> Self {
        BmhConfig {
            pxe_manager_url: "http://pxe.g10.lo:8080".into(),
            dhcp_lease_url: "http://dns.g11.lo:8080".into(),
            watch_interval: 30,
        }
    }
}

/// NATS JetStream: the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NatsConfig {
    pub url: String,
    /// Stream holding every event.
    pub stream: String,
    /// Stream and bucket replicas; values below 1 become 1. Unset: 3 when the server is part
    /// of a cluster, 1 on a single server (issue 16); a cluster of two must set it.
    #[serde(deserialize_with = "at_least_one")]
    pub replicas: Option<usize>,
    /// Write a snapshot every this many events; must be at least 1.
    pub snapshot_every: u64,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            url: "nats://127.0.0.1:4222".into(),
            stream: "MKUBE_EVENTS".into(),
            replicas: None,
            snapshot_every: 1000,
        }
    }
}

/// The main HTTP API listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiConfig {
    /// Socket address, e.g. `127.0.0.1:8082`.
    pub listen: String,
    /// File holding the bearer token; empty = no authentication.
    pub token_file: String,
    /// PEM certificate; set together with `tls_key` or not at all.
    pub tls_cert: String,
    pub tls_key: String,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: "127.0.0.1:8082".into(),
            token_file: String::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
        }
    }
}

/// The consistency checker (§6): the report is always served; these govern the repair pass
/// (§6.3) that follows creates, deletes and reconcile passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsistencyConfig {
    /// `false`: no repair pass at all (the report and `POST /api/v1/consistency/repair` stay).
    pub repair: bool,
    /// The pass decides and reports what it would reap and rebuild, and changes nothing.
    pub dry_run: bool,
    /// L-1 (d): a pass that would remove more than this fraction of the managed containers,
    /// veths or allocations refuses (logs, a `fail` report item) and stops; 0 < f ≤ 1.
    pub max_reap_fraction: f64,
    /// One deadline for a whole pass (§6.3: 30 s).
    pub pass_deadline_seconds: f64,
    /// Pause between a trigger and its pass (§6.3: 5 s); triggers meanwhile fold into it.
    pub delay_seconds: f64,
    /// A report this young is served from the cache; an older one (up to ten times this age)
    /// is served while a fresh one is computed; older still, the request waits for it.
    pub report_max_age_seconds: f64,
}

impl Default for ConsistencyConfig {
    fn default() -> Self {
        ConsistencyConfig {
            repair: true,
            dry_run: false,
            max_reap_fraction: 0.5,
            pass_deadline_seconds: 30.0,
            delay_seconds: 5.0,
            report_max_age_seconds: 5.0,
        }
    }
}

/// The update API (images.md §4.6): `POST /api/v1/update-container` on its own listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateApiConfig {
    /// Socket address (`127.0.0.1:8080`; the site uses `192.168.200.2:8080`); empty = off.
    pub listen: String,
    /// mkube's own container: a request for it is handed to mkube-update, since a process
    /// cannot replace the container it runs in.
    pub self_container: String,
    /// mkube-update's endpoint for that hand-over.
    #[serde(rename = "updaterURL")]
    pub updater_url: String,
    /// Where swap marks are kept (a persistent mount), so a swap cut short by a crash is
    /// finished or rolled back at the next start.
    pub mark_dir: String,
    /// How long a new container must stay running before the swap counts.
    pub health_seconds: f64,
}

impl Default for UpdateApiConfig {
    fn default() -> Self {
        UpdateApiConfig {
            listen: "127.0.0.1:8080".into(),
            self_container: "kube.gt.lo".into(),
            updater_url: "http://192.168.200.5:8081".into(),
            mark_dir: "/data/update".into(),
            health_seconds: 15.0,
        }
    }
}

/// Accepts any integer and clamps it to at least 1 (`nats.replicas`); `null` is unset.
fn at_least_one<'de, D: Deserializer<'de>>(de: D) -> Result<Option<usize>, D::Error> {
    let n = Option::<i64>::deserialize(de)?;
    Ok(n.map(|n| usize::try_from(n.max(1)).unwrap_or(usize::MAX)))
}
