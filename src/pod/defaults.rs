//! The defaults a Kubernetes API server fills into a Pod at admission, for the fields whose
//! absence would change what mkube does (issue 11 item 2). They are written into the stored
//! object, so `kubectl get -o yaml` shows what runs:
//!
//! - `spec.restartPolicy` → `Always` (start-on-boot, lifecycle keepalive; §1.1 LC-1)
//! - `spec.terminationGracePeriodSeconds` → 30
//! - `spec.dnsPolicy` → `ClusterFirst`
//! - `containers[].imagePullPolicy` → `Always` for a `:latest` or untagged image, else
//!   `IfNotPresent` (a digest reference counts as tagged)
//! - `containers[].ports[].protocol` → `TCP`
//! - every probe: `timeoutSeconds` 1, `periodSeconds` 10, `successThreshold` 1,
//!   `failureThreshold` 3; `httpGet.scheme` `HTTP` and `httpGet.path` `/` (§7.3 uses the same)
//!
//! A value already present is never changed.

use k8s_openapi::api::core::v1::{Container, Pod, Probe};

pub const RESTART_POLICY: &str = "Always";
pub const TERMINATION_GRACE_SECONDS: i64 = 30;
pub const DNS_POLICY: &str = "ClusterFirst";

/// Fills the defaults into `pod` in place.
pub fn apply(pod: &mut Pod) {
    let Some(spec) = pod.spec.as_mut() else {
        return;
    };
    fill(&mut spec.restart_policy, || RESTART_POLICY.to_string());
    spec.termination_grace_period_seconds
        .get_or_insert(TERMINATION_GRACE_SECONDS);
    fill(&mut spec.dns_policy, || DNS_POLICY.to_string());
    for c in spec.containers.iter_mut() {
        container(c);
    }
    for c in spec.init_containers.iter_mut().flatten() {
        container(c);
    }
}

fn fill(field: &mut Option<String>, value: impl FnOnce() -> String) {
    if field.as_deref().is_none_or(str::is_empty) {
        *field = Some(value());
    }
}

fn container(c: &mut Container) {
    let image = c.image.clone().unwrap_or_default();
    fill(&mut c.image_pull_policy, || pull_policy(&image).to_string());
    for port in c.ports.iter_mut().flatten() {
        fill(&mut port.protocol, || "TCP".to_string());
    }
    for probe in [
        &mut c.startup_probe,
        &mut c.liveness_probe,
        &mut c.readiness_probe,
    ]
    .into_iter()
    .flatten()
    {
        self::probe(probe);
    }
}

/// `Always` when the reference names no tag or `latest` (Kubernetes' rule), else
/// `IfNotPresent`.
pub fn pull_policy(image: &str) -> &'static str {
    let parts = crate::oci::reference::split(image);
    match (parts.digest, parts.tag) {
        (Some(_), _) => "IfNotPresent",
        (None, Some(tag)) if tag != "latest" => "IfNotPresent",
        _ => "Always",
    }
}

fn probe(p: &mut Probe) {
    p.timeout_seconds.get_or_insert(1);
    p.period_seconds.get_or_insert(10);
    p.success_threshold.get_or_insert(1);
    p.failure_threshold.get_or_insert(3);
    if let Some(h) = p.http_get.as_mut() {
        fill(&mut h.scheme, || "HTTP".to_string());
        fill(&mut h.path, || "/".to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerPort, HTTPGetAction, PodSpec};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn bare(image: &str) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some(image.into()),
                    ports: Some(vec![ContainerPort {
                        container_port: 80,
                        ..Default::default()
                    }]),
                    liveness_probe: Some(Probe {
                        http_get: Some(HTTPGetAction {
                            port: IntOrString::Int(80),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    // Issue 11 item 2: an omitted restartPolicy is Always, as on a Kubernetes API server.
    #[test]
    fn omitted_fields_get_the_api_server_defaults() {
        let mut pod = bare("registry.lo:5000/web:v2");
        apply(&mut pod);
        let spec = pod.spec.unwrap();
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(spec.termination_grace_period_seconds, Some(30));
        assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirst"));
        let c = &spec.containers[0];
        assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));
        assert_eq!(
            c.ports.as_ref().unwrap()[0].protocol.as_deref(),
            Some("TCP")
        );
        let p = c.liveness_probe.as_ref().unwrap();
        assert_eq!(
            (
                p.timeout_seconds,
                p.period_seconds,
                p.success_threshold,
                p.failure_threshold
            ),
            (Some(1), Some(10), Some(1), Some(3))
        );
        let h = p.http_get.as_ref().unwrap();
        assert_eq!(h.scheme.as_deref(), Some("HTTP"));
        assert_eq!(h.path.as_deref(), Some("/"));
    }

    #[test]
    fn given_values_are_kept() {
        let mut pod = bare("web");
        {
            let spec = pod.spec.as_mut().unwrap();
            spec.restart_policy = Some("Never".into());
            spec.termination_grace_period_seconds = Some(5);
            spec.containers[0].image_pull_policy = Some("Never".into());
        }
        apply(&mut pod);
        let spec = pod.spec.unwrap();
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(spec.termination_grace_period_seconds, Some(5));
        assert_eq!(
            spec.containers[0].image_pull_policy.as_deref(),
            Some("Never")
        );
    }

    #[test]
    fn pull_policy_follows_the_tag() {
        assert_eq!(pull_policy("nginx"), "Always");
        assert_eq!(pull_policy("nginx:latest"), "Always");
        assert_eq!(pull_policy("host:5000/nginx"), "Always");
        assert_eq!(pull_policy("host:5000/nginx:1.27"), "IfNotPresent");
        assert_eq!(pull_policy("nginx@sha256:abc"), "IfNotPresent");
    }
}
