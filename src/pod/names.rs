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
