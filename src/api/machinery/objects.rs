//! Kubernetes object plumbing shared by the resource handlers: `kind`/`apiVersion` stamping,
//! list envelopes, timestamps, derived uids and the subjects objects live on.

use chrono::Utc;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// `obj` as JSON with `kind` and `apiVersion` set (k8s-openapi leaves them out).
pub fn typed<T: Serialize>(obj: &T, kind: &str, api_version: &str) -> Value {
    let mut v = serde_json::to_value(obj).unwrap_or_else(|_| json!({}));
    if let Some(map) = v.as_object_mut() {
        map.insert("kind".into(), kind.into());
        map.insert("apiVersion".into(), api_version.into());
    }
    v
}

/// A `v1` list (`PodList`, …) whose `metadata.resourceVersion` is the log position it reflects.
pub fn list(kind: &str, resource_version: u64, items: Vec<Value>) -> Value {
    json!({
        "kind": kind,
        "apiVersion": "v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "items": items,
    })
}

pub use crate::kube_time::{chrono_of, time};

/// A stable uid for objects that were stored without one (manifest pods, namespaces): a
/// UUID-shaped digest of what identifies them.
pub fn derived_uid(seed: &str) -> String {
    let d = Sha256::digest(seed.as_bytes());
    let h = hex::encode(&d[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Kubernetes' short human duration (`45s`, `3m12s`, `95m`, `7h`, `3d`), as `kubectl` shows ages.
pub fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    let m = s / 60;
    let h = m / 60;
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if h < 3 {
        format!("{m}m")
    } else if h < 48 {
        format!("{h}h")
    } else {
        format!("{}d", h / 24)
    }
}

/// Age of an object created at `created`, now.
pub fn age(created: Option<&Time>) -> String {
    match created.and_then(chrono_of) {
        Some(at) => human_age((Utc::now() - at).num_seconds()),
        None => "<unknown>".into(),
    }
}

/// The log sequence of the last event on the object's subject (0 when it has none).
pub async fn resource_version(
    cluster: &crate::actors::wiring::Cluster,
    area: &str,
    ns: &str,
    name: &str,
) -> u64 {
    let subject = crate::events::subject::for_key(cluster.log.node(), area, &[ns, name]);
    cluster
        .log
        .last_sequence_of(&subject)
        .await
        .ok()
        .flatten()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(human_age(-3), "0s");
        assert_eq!(human_age(45), "45s");
        assert_eq!(human_age(192), "3m12s");
        assert_eq!(human_age(300), "5m");
        assert_eq!(human_age(95 * 60), "95m");
        assert_eq!(human_age(7 * 3600), "7h");
        assert_eq!(human_age(3 * 86400), "3d");
    }

    #[test]
    fn derived_uids_are_stable_and_uuid_shaped() {
        let a = derived_uid("pod/default/web");
        assert_eq!(a, derived_uid("pod/default/web"));
        assert_ne!(a, derived_uid("pod/default/web2"));
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }
}
