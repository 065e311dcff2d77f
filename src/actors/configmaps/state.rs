//! The configmaps actor's state: desired ConfigMaps by key `ns/name`.

use crate::events::catalogue::ConfigMapsEvent;
use k8s_openapi::api::core::v1::ConfigMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapsState {
    pub config_maps: BTreeMap<String, ConfigMap>,
}

pub fn config_map_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

impl ConfigMapsState {
    pub fn apply(&mut self, event: &ConfigMapsEvent) {
        let (ns, name) = event.config_map_key();
        let key = config_map_key(ns, name);
        match event {
            ConfigMapsEvent::ConfigMapPut { config_map, .. } => {
                self.config_maps.insert(key, (**config_map).clone());
            }
            ConfigMapsEvent::ConfigMapDeleted { .. } => {
                self.config_maps.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_replaces_and_delete_removes() {
        let mut s = ConfigMapsState::default();
        let put = |v: &str| ConfigMapsEvent::ConfigMapPut {
            namespace: "default".into(),
            name: "cfg".into(),
            config_map: Box::new(ConfigMap {
                data: Some([("k".to_string(), v.to_string())].into()),
                ..Default::default()
            }),
        };
        s.apply(&put("1"));
        s.apply(&put("2"));
        assert_eq!(s.config_maps.len(), 1);
        assert_eq!(
            s.config_maps["default/cfg"].data.as_ref().unwrap()["k"],
            "2"
        );
        s.apply(&ConfigMapsEvent::ConfigMapDeleted {
            namespace: "default".into(),
            name: "cfg".into(),
        });
        assert!(s.config_maps.is_empty());
        // Deleting what is not there changes nothing.
        s.apply(&ConfigMapsEvent::ConfigMapDeleted {
            namespace: "default".into(),
            name: "cfg".into(),
        });
        assert!(s.config_maps.is_empty());
    }
}
