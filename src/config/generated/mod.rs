//! ConfigMaps derived from the configuration (controller.md §8.3): `infra/mkube-console-config`
//! and one `dns-config` per network with a DNS zone and server. Built at startup and re-applied
//! on every reconcile pass (DS-6), so their bytes must not depend on anything but the config:
//! any change rewrites files and recreates the DNS pods.

mod console;
mod microdns;

pub use console::{CONSOLE_KEY, console_config_yaml};
pub use microdns::{MICRODNS_KEY, microdns_toml};

use super::Config;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// Every generated ConfigMap, console first, then the networks in config order.
pub fn generated_config_maps(config: &Config) -> Vec<ConfigMap> {
    let mut maps = vec![config_map(
        "infra",
        "mkube-console-config",
        CONSOLE_KEY,
        console_config_yaml(config),
    )];
    for network in &config.networks {
        if let Some(toml) = microdns_toml(config, network) {
            maps.push(config_map(&network.name, "dns-config", MICRODNS_KEY, toml));
        }
    }
    maps
}

fn config_map(namespace: &str, name: &str, key: &str, text: String) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            annotations: Some(BTreeMap::from([(
                "vkube.io/generated".to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(key.to_string(), text)])),
        ..Default::default()
    }
}
