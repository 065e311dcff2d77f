use k8s_openapi::api::core::v1::ConfigMap;
use serde::{Deserialize, Serialize};

/// ConfigMaps as desired state (controller.md §9): the whole object is stored on each put.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all_fields = "camelCase")]
pub enum ConfigMapsEvent {
    /// A ConfigMap was created or replaced (POST, PUT or PATCH).
    ConfigMapPut {
        namespace: String,
        name: String,
        config_map: Box<ConfigMap>,
    },
    /// The ConfigMap was deleted.
    ConfigMapDeleted { namespace: String, name: String },
}

impl ConfigMapsEvent {
    pub fn config_map_key(&self) -> (&str, &str) {
        match self {
            ConfigMapsEvent::ConfigMapPut {
                namespace, name, ..
            }
            | ConfigMapsEvent::ConfigMapDeleted { namespace, name } => (namespace, name),
        }
    }

    pub fn key(&self) -> Vec<String> {
        let (ns, name) = self.config_map_key();
        vec![ns.to_string(), name.to_string()]
    }
}
