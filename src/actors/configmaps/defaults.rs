//! DS-6: ConfigMaps that come from mkube's own inputs rather than the API. Boot-manifest
//! ConfigMaps are seeded when missing (a user's later edit through the API stands); the
//! ConfigMaps generated from the configuration (§8.3) are written over whatever is stored, so
//! config-derived ones always win. Each is written only when it differs, so a pass with
//! nothing changed appends no event.

use super::state::config_map_key;
use super::{ConfigMapsActor, ConfigMapsError};
use crate::actors::journal::commit;
use crate::config::Config;
use crate::config::generated::generated_config_maps;
use crate::events::catalogue::ConfigMapsEvent;
use actix::prelude::*;
use k8s_openapi::api::core::v1::ConfigMap;
use std::collections::BTreeSet;

/// When [`EnsureConfigMap`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensure {
    /// Only when no ConfigMap of that key is stored (manifest seeds).
    IfMissing,
    /// Whenever the stored data or labels/annotations differ (generated ConfigMaps).
    IfDifferent,
}

/// Write one ConfigMap per [`Ensure`]; resolves to the sequence when something was written.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<u64>, ConfigMapsError>")]
pub struct EnsureConfigMap {
    pub config_map: ConfigMap,
    pub ensure: Ensure,
    pub correlation: String,
}

impl Handler<EnsureConfigMap> for ConfigMapsActor {
    type Result = AtomicResponse<Self, Result<Option<u64>, ConfigMapsError>>;

    fn handle(&mut self, msg: EnsureConfigMap, _: &mut Context<Self>) -> Self::Result {
        let meta = &msg.config_map.metadata;
        let namespace = crate::pod::namespace_of(meta).to_string();
        let name = meta.name.clone().unwrap_or_default();
        let stored = self
            .state
            .config_maps
            .get(&config_map_key(&namespace, &name));
        let write = match (msg.ensure, stored) {
            (_, None) => true,
            (Ensure::IfMissing, Some(_)) => false,
            (Ensure::IfDifferent, Some(old)) => !same_content(old, &msg.config_map),
        };
        if !write {
            return AtomicResponse::new(Box::pin(fut::ready(Ok(None))));
        }
        let mut config_map = msg.config_map;
        config_map.metadata.namespace = Some(namespace.clone());
        // Kept across rewrites, like an API PUT does; set when first written.
        config_map.metadata.creation_timestamp = stored
            .and_then(|old| old.metadata.creation_timestamp.clone())
            .or_else(|| {
                k8s_openapi::jiff::Timestamp::new(chrono::Utc::now().timestamp(), 0)
                    .ok()
                    .map(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time)
            });
        let event = ConfigMapsEvent::ConfigMapPut {
            namespace,
            name,
            config_map: Box::new(config_map),
        };
        AtomicResponse::new(Box::pin(
            commit(self, event.into(), &msg.correlation)
                .map(|r, _, _| r.map(Some).map_err(ConfigMapsError::from)),
        ))
    }
}

fn same_content(a: &ConfigMap, b: &ConfigMap) -> bool {
    a.data == b.data
        && a.binary_data == b.binary_data
        && a.metadata.labels == b.metadata.labels
        && a.metadata.annotations == b.metadata.annotations
}

/// Seeds the manifest's ConfigMaps, then writes the generated ones. Returns how many were
/// written; failures are logged and the rest still tried (the next pass retries).
pub async fn apply_defaults(
    config: &Config,
    manifest: Vec<ConfigMap>,
    configmaps: &Addr<ConfigMapsActor>,
) -> usize {
    let generated = generated_config_maps(config);
    let generated_keys: BTreeSet<String> = generated.iter().map(key_of).collect();
    let seeds = manifest
        .into_iter()
        .filter(|cm| !generated_keys.contains(&key_of(cm)))
        .map(|cm| (cm, Ensure::IfMissing));
    let overrides = generated.into_iter().map(|cm| (cm, Ensure::IfDifferent));
    let mut written = 0;
    for (config_map, ensure) in seeds.chain(overrides) {
        let key = key_of(&config_map);
        let msg = EnsureConfigMap {
            config_map,
            ensure,
            correlation: format!("defaults/{key}"),
        };
        match configmaps.send(msg).await {
            Ok(Ok(Some(_))) => written += 1,
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(configmap = %key, error = %e, "writing ConfigMap failed"),
            Err(e) => tracing::warn!(configmap = %key, error = %e, "writing ConfigMap failed"),
        }
    }
    written
}

fn key_of(cm: &ConfigMap) -> String {
    config_map_key(
        crate::pod::namespace_of(&cm.metadata),
        cm.metadata.name.as_deref().unwrap_or_default(),
    )
}
