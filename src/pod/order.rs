//! Boot ordering (§7.4 [D]): missing pods are created by priority (`vkube.io/boot-priority`,
//! else `index*10`), and a pod's `vkube.io/depends-on` containers (RouterOS names) come first,
//! so registry (3) precedes NATS (5) precedes DNS (11–13).

use super::annotations;
use super::key::namespace_of;
use super::names;
use k8s_openapi::api::core::v1::Pod;
use std::collections::HashSet;

/// Pod keys of `pods` (in desired-set order) in creation order.
pub fn creation_order(pods: &[(String, &Pod)]) -> Vec<String> {
    let mut ranked: Vec<(i64, usize)> = pods
        .iter()
        .enumerate()
        .map(|(i, (_, p))| (annotations::boot_priority(p, i), i))
        .collect();
    ranked.sort();
    let owner = |device: &str| {
        pods.iter().position(|(_, p)| {
            let ns = namespace_of(&p.metadata);
            let name = p.metadata.name.as_deref().unwrap_or_default();
            p.spec
                .iter()
                .flat_map(|s| &s.containers)
                .any(|c| names::container_name(ns, name, &c.name) == device)
        })
    };
    let mut out = Vec::with_capacity(pods.len());
    let mut seen = HashSet::new();
    fn visit(
        i: usize,
        pods: &[(String, &Pod)],
        owner: &dyn Fn(&str) -> Option<usize>,
        seen: &mut HashSet<usize>,
        out: &mut Vec<String>,
    ) {
        if !seen.insert(i) {
            return;
        }
        for dep in annotations::depends_on(pods[i].1) {
            if let Some(j) = owner(&dep) {
                visit(j, pods, owner, seen, out);
            }
        }
        out.push(pods[i].0.clone());
    }
    for (_, i) in ranked {
        visit(i, pods, &owner, &mut seen, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(name: &str, ann: &[(&str, &str)]) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("infra".into()),
                annotations: Some(
                    ann.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: name.into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    // §7.4 vectors: priorities 100, 1, 50 → 1, 50, 100.
    #[test]
    fn priority_then_dependencies() {
        let a = pod("a", &[(annotations::ANN_BOOT_PRIORITY, "100")]);
        let b = pod("b", &[(annotations::ANN_BOOT_PRIORITY, "1")]);
        let c = pod("c", &[(annotations::ANN_BOOT_PRIORITY, "50")]);
        let pods = vec![("a".into(), &a), ("b".into(), &b), ("c".into(), &c)];
        assert_eq!(creation_order(&pods), vec!["b", "c", "a"]);
        // b depends on a's container: a first, although its priority is larger.
        let b = pod(
            "b",
            &[
                (annotations::ANN_BOOT_PRIORITY, "1"),
                (annotations::ANN_DEPENDS_ON, "infra_a_a"),
            ],
        );
        let pods = vec![("a".into(), &a), ("b".into(), &b), ("c".into(), &c)];
        assert_eq!(creation_order(&pods), vec!["a", "b", "c"]);
        // Absent priority: index*10.
        let x = pod("x", &[]);
        let y = pod("y", &[(annotations::ANN_BOOT_PRIORITY, "5")]);
        let pods = vec![("x".into(), &x), ("y".into(), &y)];
        assert_eq!(creation_order(&pods), vec!["x", "y"]);
    }
}
