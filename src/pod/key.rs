//! A pod's identity (controller.md §1.1 glossary): namespace (empty → `default`) and name, and
//! its key `ns/name`, by which the pods fold, the API and the logs name it.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::fmt;

pub const DEFAULT_NAMESPACE: &str = "default";

/// The namespace of an object (`default` when it names none).
pub fn namespace_of(meta: &ObjectMeta) -> &str {
    meta.namespace
        .as_deref()
        .filter(|ns| !ns.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE)
}

/// The key `ns/name` of a pod given by namespace and name.
pub fn pod_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// Namespace and name of a pod.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodKey {
    pub namespace: String,
    pub name: String,
}

impl PodKey {
    pub fn new(namespace: &str, name: &str) -> PodKey {
        PodKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// The key of a pod object (its namespace defaulted).
    pub fn of(pod: &Pod) -> PodKey {
        PodKey::new(
            namespace_of(&pod.metadata),
            pod.metadata.name.as_deref().unwrap_or_default(),
        )
    }

    /// `ns/name` back into its parts; a key without `/` is a name in `default`.
    pub fn parse(key: &str) -> PodKey {
        match key.split_once('/') {
            Some((ns, name)) => PodKey::new(ns, name),
            None => PodKey::new(DEFAULT_NAMESPACE, key),
        }
    }
}

impl fmt::Display for PodKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_default_the_namespace_and_round_trip() {
        let mut pod = Pod::default();
        pod.metadata.name = Some("web".into());
        assert_eq!(PodKey::of(&pod).to_string(), "default/web");
        pod.metadata.namespace = Some(String::new());
        assert_eq!(PodKey::of(&pod).to_string(), "default/web");
        pod.metadata.namespace = Some("infra".into());
        let key = PodKey::of(&pod);
        assert_eq!(PodKey::parse(&key.to_string()), key);
        assert_eq!(PodKey::parse("solo"), PodKey::new("default", "solo"));
        assert_eq!(pod_key("a", "b"), "a/b");
    }
}
