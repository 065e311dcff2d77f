//! Device names of a pod's objects (controller.md §2, NAME-1…NAME-6). Pure and
//! deterministic, so a crash between an effect and its outcome event is resumed by finding the
//! object by name (adoption), never by creating a second one.

use super::key::namespace_of;
use k8s_openapi::api::core::v1::Pod;

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
    let ns = namespace_of(&pod.metadata);
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let n = pod.spec.as_ref().map_or(0, |s| s.containers.len());
    (0..n).map(|i| veth_name(ns, name, i)).collect()
}

/// Whether a device container's name has NAME-1's shape — `<ns>_<pod>_<container>` as
/// [`container_name`] writes it: at most 64 bytes of `[a-z0-9_-]` with at least two `_`.
/// Only such names are ever reaped as orphans (CC-R1); a name without `_` (the controller's
/// own, a user's), with upper case, or with a single `_` never is.
pub fn is_container_name_shape(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && name.bytes().filter(|b| *b == b'_').count() >= 2
}

/// Whether a veth's name has NAME-2's shape — `veth_<ns>_<pod>_<i>` as [`veth_name`] writes
/// it: the `veth_` prefix, a non-empty namespace and pod part, and a decimal index. Only such
/// veths (and their IPAM entries) are ever reaped as orphans (CC-R2, CC-R3).
pub fn is_veth_name_shape(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("veth_") else {
        return false;
    };
    let Some((head, index)) = rest.rsplit_once('_') else {
        return false;
    };
    let index_ok = !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit());
    index_ok
        && head
            .split_once('_')
            .is_some_and(|(ns, pod)| !ns.is_empty() && !pod.is_empty())
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

/// NAME-6: a ConfigMap key that names exactly one file inside its volume directory.
pub fn config_key_is_file_name(key: &str) -> bool {
    !key.is_empty()
        && key != "."
        && key != ".."
        && key.len() <= 253
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
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
    fn only_name1_and_name2_shapes_are_managed_names() {
        for ok in [
            "default_web_app",
            "g10_dns_microdns",
            "a_b_c_d",
            "infra_nats-x_nats",
        ] {
            assert!(is_container_name_shape(ok), "{ok}");
        }
        assert!(is_container_name_shape(&container_name(
            "Ns", "My.Pod", "Web"
        )));
        for no in [
            "selfctl",
            "ops_tool",
            "Default_web_app",
            "a b_c_d",
            "",
            "kube.gt.lo",
        ] {
            assert!(!is_container_name_shape(no), "{no}");
        }
        assert!(!is_container_name_shape(&format!("a_b_{}", "c".repeat(70))));
        for ok in ["veth_default_nginx_0", "veth_averyverylongna_My.Pod_12"] {
            assert!(is_veth_name_shape(ok), "{ok}");
        }
        assert!(is_veth_name_shape(&veth_name("infra", "fastregistry", 3)));
        for no in [
            "veth-mkube",
            "veth_x",
            "veth_ns_0",
            "veth__pod_0",
            "veth_ns_pod_",
            "veth_ns_pod_x",
            "eth_ns_pod_0",
        ] {
            assert!(!is_veth_name_shape(no), "{no}");
        }
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
