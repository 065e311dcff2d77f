//! Device names of a pod's objects (controller.md §2) and the annotations of §1.2. Pure:
//! names are deterministic so a crash between an effect and its outcome event is resumed by
//! finding the object by name (adoption), never by creating a second one.

use k8s_openapi::api::core::v1::Pod;
use std::net::Ipv4Addr;

pub const ANN_NETWORK: &str = "vkube.io/network";
pub const ANN_STATIC_IP: &str = "vkube.io/static-ip";
pub const ANN_FILE: &str = "vkube.io/file";
pub const ANN_IMAGE_POLICY: &str = "vkube.io/image-policy";
pub const ANN_BOOT_PRIORITY: &str = "vkube.io/boot-priority";
pub const ANN_DEPENDS_ON: &str = "vkube.io/depends-on";
pub const ANN_ALIASES: &str = "vkube.io/aliases";
pub const ANN_NAMESPACE: &str = "vkube.io/namespace";

/// NAME-1: `<ns>_<pod>_<container>`, `[a-z0-9_-]` kept, `A-Z` lower-cased, the rest `_`,
/// cut to 64 bytes (every kept byte is ASCII, so the cut is on a char boundary).
pub fn container_name(ns: &str, pod: &str, container: &str) -> String {
    let ns = if ns.is_empty() { "default" } else { ns };
    let mut out: String = format!("{ns}_{pod}_{container}")
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect();
    out.truncate(64);
    out
}

/// NAME-2, the upstream [F] variant chosen once for the rewrite: `veth_<ns[:15]>_<pod[:15]>_<i>`
/// (characters, no sanitisation). 15 instead of 8 keeps `fastregistry` and
/// `fastregistry-replica` apart; RouterOS accepts the longer names.
pub fn veth_name(ns: &str, pod: &str, index: usize) -> String {
    let ns = if ns.is_empty() { "default" } else { ns };
    let cut = |s: &str| s.chars().take(15).collect::<String>();
    format!("veth_{}_{}_{index}", cut(ns), cut(pod))
}

/// NAME-2 names of every container of a pod.
pub fn veth_names(pod: &Pod) -> Vec<String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let n = pod.spec.as_ref().map_or(0, |s| s.containers.len());
    (0..n).map(|i| veth_name(ns, name, i)).collect()
}

/// NAME-4: `<basePath>/<container name>`.
pub fn root_dir(base_path: &str, container: &str) -> String {
    format!("{}/{container}", base_path.trim_end_matches('/'))
}

/// NAME-5: `<basePath without a trailing "/images">/volumes/<container>/<volume>`.
pub fn volume_dir(base_path: &str, container: &str, volume: &str) -> String {
    let base = base_path.trim_end_matches('/');
    let base = base.strip_suffix("/images").unwrap_or(base);
    format!("{base}/volumes/{container}/{volume}")
}

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// `vkube.io/network`; `None` means the first configured network.
pub fn network(pod: &Pod) -> Option<&str> {
    annotation(pod, ANN_NETWORK)
}

/// `vkube.io/static-ip`: `Ok(None)` when absent, `Err` when not an IPv4 address.
pub fn static_ip(pod: &Pod) -> Result<Option<Ipv4Addr>, String> {
    match annotation(pod, ANN_STATIC_IP) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{ANN_STATIC_IP} {v:?} is not an IPv4 address")),
    }
}

/// `vkube.io/aliases` (§1.2, NAME-9): `(name, container)` pairs; a bare entry names the
/// first container (`None`). Entries are trimmed and empty ones dropped. The pod name itself
/// is not included (callers add it first).
pub fn aliases(pod: &Pod) -> Vec<(String, Option<String>)> {
    let Some(raw) = annotation(pod, ANN_ALIASES) else {
        return Vec::new();
    };
    raw.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .filter_map(|entry| match entry.split_once('=') {
            Some((name, ctr)) => {
                let (name, ctr) = (name.trim(), ctr.trim());
                (!name.is_empty()).then(|| (name.to_string(), Some(ctr.to_string())))
            }
            None => Some((entry.to_string(), None)),
        })
        .collect()
}

/// `vkube.io/namespace` (§1.2): the namespace whose DNS zone also receives the pod's names.
pub fn dns_namespace(pod: &Pod) -> Option<&str> {
    annotation(pod, ANN_NAMESPACE)
}

/// `vkube.io/file`: a device tarball path used verbatim.
pub fn file(pod: &Pod) -> Option<&str> {
    annotation(pod, ANN_FILE)
}

/// `vkube.io/image-policy: auto` without `vkube.io/file`: recreate when the registry digest
/// changes (§1.2, §5 step 3c).
pub fn auto_update(pod: &Pod) -> bool {
    annotation(pod, ANN_IMAGE_POLICY) == Some("auto") && file(pod).is_none()
}

/// `vkube.io/boot-priority`, else `index*10` (index in the desired set).
pub fn boot_priority(pod: &Pod, index: usize) -> i64 {
    annotation(pod, ANN_BOOT_PRIORITY)
        .and_then(|v| v.parse().ok())
        .unwrap_or(index as i64 * 10)
}

/// `vkube.io/depends-on`: RouterOS container names, split on `,`, not trimmed (§1.2).
pub fn depends_on(pod: &Pod) -> Vec<String> {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_DEPENDS_ON))
        .filter(|v| !v.is_empty())
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name1_examples() {
        assert_eq!(
            container_name("default", "myapp", "web"),
            "default_myapp_web"
        );
        assert_eq!(container_name("", "MyApp", "Web"), "default_myapp_web");
        assert_eq!(container_name("g10", "dns", "microdns"), "g10_dns_microdns");
        assert_eq!(container_name("a", "b.c", "d"), "a_b_c_d");
        assert_eq!(container_name("a", &"x".repeat(80), "d").len(), 64);
    }

    #[test]
    fn name2_fifteen_character_parts() {
        assert_eq!(veth_name("default", "nginx", 0), "veth_default_nginx_0");
        assert_ne!(
            veth_name("infra", "fastregistry", 0),
            veth_name("infra", "fastregistry-replica", 0)
        );
        assert_eq!(
            veth_name("averyverylongnamespace", "My.Pod", 1),
            "veth_averyverylongna_My.Pod_1"
        );
    }

    #[test]
    fn name4_name5_paths() {
        assert_eq!(
            root_dir("/raid1/images", "infra_nats_nats"),
            "/raid1/images/infra_nats_nats"
        );
        assert_eq!(
            volume_dir("/raid1/images", "infra_nats_nats", "data"),
            "/raid1/volumes/infra_nats_nats/data"
        );
        assert_eq!(
            volume_dir("/raid1/store/", "c", "v"),
            "/raid1/store/volumes/c/v"
        );
    }
}
