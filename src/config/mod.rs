//! Configuration: schema, loading and validation (controller.md §8.1, §8.2),
//! and the boot-order manifest (§1.3).
//!
//! ```no_run
//! let loaded = mkube::config::load(std::path::Path::new("config/demo.yaml"))?;
//! for w in &loaded.warnings {
//!     tracing::warn!("{w}");
//! }
//! let first = &loaded.config.networks[0];
//! let (start, end) = first.ipam_range();
//! # let _ = (start, end);
//! # Ok::<(), mkube::config::ConfigError>(())
//! ```

mod api_key;
mod error;
pub mod generated;
mod load;
pub mod manifest;
mod network;
mod schema;
mod validate;

pub use api_key::{ApiKey, read_api_key};
pub use error::{ConfigError, Problem};
pub use load::{Loaded, from_yaml_str, load};
pub use manifest::{Manifest, load_manifest, parse_manifest};
pub use network::{
    DhcpConfig, DhcpReservation, DnsConfig, LegacyNetworkConfig, Network, StaticRecord,
};
pub use schema::{
    ApiConfig, BmhConfig, Config, ConsistencyConfig, DzoConfig, LifecycleConfig, LoggingConfig,
    NamespaceConfig, NatsConfig, PersistentMount, RegistryConfig, RouterOsConfig, StorageConfig,
    StormbaseConfig, UpdateApiConfig, WatchImage,
};

/// Where `--config` points by default (§8.1).
pub const DEFAULT_CONFIG_PATH: &str = "/etc/mkube/config.yaml";

impl Config {
    /// The network named `name`.
    pub fn network_named(&self, name: &str) -> Option<&Network> {
        self.networks.iter().find(|n| n.name == name)
    }

    /// The first network: where pods without `vkube.io/network` go (§1.2).
    /// Loading guarantees there is one.
    pub fn default_network(&self) -> Option<&Network> {
        self.networks.first()
    }
}
