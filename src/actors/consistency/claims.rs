//! What the desired set claims on the device (§6.3, DS-5, L-1, L-2): the NAME-1 containers
//! and NAME-2 veths of every desired pod, every pod being deleted and every boot-manifest pod,
//! and every name their records hold — intents included, so an object whose creation is
//! under way (or was cut short by a crash) is never taken for an orphan. Pure.

use crate::actors::pods::state::PodsState;
use crate::pod::spec::containers;
use crate::pod::{DesiredPod, PodKey, names};
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    containers: BTreeSet<String>,
    veths: BTreeSet<String>,
}

impl Claims {
    pub fn of(pods: &PodsState, manifest: &[Pod]) -> Claims {
        let mut claims = Claims::default();
        for p in pods.pods.values().chain(pods.deleting.values()) {
            claims.add_spec(&p.pod);
            claims.add_records(p);
        }
        for pod in manifest {
            claims.add_spec(pod);
        }
        // Lifecycle units are named after the containers of their pods.
        claims.containers.extend(pods.units.keys().cloned());
        claims
    }

    fn add_spec(&mut self, pod: &Pod) {
        let key = PodKey::of(pod);
        for c in containers(pod) {
            self.containers
                .insert(names::container_name(&key.namespace, &key.name, &c.name));
        }
        self.veths.extend(names::veth_names(pod));
    }

    fn add_records(&mut self, p: &DesiredPod) {
        for rec in p.containers.values() {
            self.containers.insert(rec.device_name.clone());
            if !rec.veth.is_empty() {
                self.veths.insert(rec.veth.clone());
            }
        }
    }

    pub fn container(&self, name: &str) -> bool {
        self.containers.contains(name)
    }

    pub fn veth(&self, name: &str) -> bool {
        self.veths.contains(name)
    }
}

/// DS-5: the keys of every desired pod — the log's, then the boot manifest's.
pub fn desired_keys(pods: &PodsState, manifest: &[Pod]) -> BTreeSet<String> {
    pods.pods
        .keys()
        .cloned()
        .chain(manifest.iter().map(|p| PodKey::of(p).to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::catalogue::PodSource;
    use crate::pod::DeviceContainer;
    use crate::pod::sample::SamplePod;

    #[test]
    fn desired_deleting_manifest_and_recorded_names_are_claimed() {
        let mut pods = PodsState::default();
        let web = SamplePod::on_device("default", "web", "x.tar").build();
        pods.pods
            .insert("default/web".into(), DesiredPod::new(web, PodSource::Api));
        let mut gone = DesiredPod::placeholder("default", "old");
        gone.containers.insert(
            "app".into(),
            DeviceContainer {
                veth: "veth_default_old_0".into(),
                ..DeviceContainer::named("default_old_app")
            },
        );
        pods.deleting.insert("default/old".into(), gone);
        let boot = SamplePod::on_device("infra", "nats", "n.tar").build();
        let claims = Claims::of(&pods, std::slice::from_ref(&boot));
        for c in ["default_web_app", "default_old_app", "infra_nats_app"] {
            assert!(claims.container(c), "{c}");
        }
        for v in [
            "veth_default_web_0",
            "veth_default_old_0",
            "veth_infra_nats_0",
        ] {
            assert!(claims.veth(v), "{v}");
        }
        assert!(!claims.container("default_other_app"));
        assert!(!claims.veth("veth_default_other_0"));
        let keys = desired_keys(&pods, &[boot]);
        assert_eq!(
            keys.into_iter().collect::<Vec<_>>(),
            vec!["default/web".to_string(), "infra/nats".to_string()],
            "a pod being deleted is not desired"
        );
    }
}
