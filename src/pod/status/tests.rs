use super::*;
use crate::events::catalogue::PodSource;
use crate::pod::DeviceContainer;
use k8s_openapi::api::core::v1::{Container as K8sContainer, Pod, PodSpec};
use std::collections::BTreeMap;

fn desired(started: bool) -> DesiredPod {
    let mut pod = Pod::default();
    pod.metadata.name = Some("web".into());
    pod.metadata.namespace = Some("default".into());
    pod.spec = Some(PodSpec {
        containers: vec![K8sContainer {
            name: "app".into(),
            image: Some("reg/app:v1".into()),
            ..Default::default()
        }],
        ..Default::default()
    });
    let mut d = DesiredPod::new(pod, PodSource::Api);
    d.containers.insert(
        "app".into(),
        DeviceContainer {
            device_id: "*1A".into(),
            started,
            ip: "10.0.0.5".into(),
            image_digest: "sha256:abc".into(),
            ..DeviceContainer::named("default_web_app")
        },
    );
    d
}

fn net() -> Network {
    Network {
        name: "t".into(),
        cidr: "10.0.0.0/24".into(),
        ..Default::default()
    }
}

fn inputs<'a>(units: &'a BTreeMap<String, Unit>, networks: &'a [Network]) -> StatusInputs<'a> {
    StatusInputs {
        units,
        networks,
        node: "n",
        started: None,
        address: Box::new(|network: &str, veth: &str| {
            (network == "t" && veth == "veth_default_web_0").then(|| "10.0.0.9".to_string())
        }),
    }
}

fn status(d: &DesiredPod, seq: u64, obs: Option<&PodObservation>) -> PodStatus {
    let units = BTreeMap::new();
    let network = [net()];
    pod_status(d, seq, obs, &inputs(&units, &network))
}

fn observed(seq: u64, deviation: Option<Deviation>, unready: bool) -> PodObservation {
    let mut o = PodObservation {
        seq,
        generation: 7,
        ..Default::default()
    };
    if let Some(d) = deviation {
        o.deviations.insert("app".into(), d);
    }
    if unready {
        o.unready.insert("app".into());
    }
    o
}

fn state(s: &PodStatus) -> &ContainerState {
    s.container_statuses.as_ref().unwrap()[0]
        .state
        .as_ref()
        .unwrap()
}

fn ready(s: &PodStatus) -> bool {
    s.container_statuses.as_ref().unwrap()[0].ready
}

fn condition(s: &PodStatus, kind: &str) -> String {
    s.conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == kind)
        .unwrap()
        .status
        .clone()
}

// §3.6: started and nothing observed otherwise → Running, ready, with the recorded id,
// digest and address.
#[test]
fn started_container_runs() {
    let s = status(&desired(true), 3, None);
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert!(state(&s).running.is_some() && ready(&s));
    let c = &s.container_statuses.as_ref().unwrap()[0];
    assert_eq!(c.container_id.as_deref(), Some("*1A"));
    assert_eq!(c.image_id, "sha256:abc");
    assert_eq!(s.pod_ip.as_deref(), Some("10.0.0.5"));
    assert_eq!(condition(&s, "Ready"), "True");
}

// §3.6, issue 11 item 3: the device as last observed, not the log's hope.
#[test]
fn the_device_overrides_the_log() {
    let stopped = observed(3, Some(Deviation::Listed(DeviceState::Stopped)), false);
    let s = status(&desired(true), 3, Some(&stopped));
    let t = state(&s).terminated.as_ref().expect("terminated");
    assert_eq!(t.reason.as_deref(), Some("Stopped"));
    assert!(!ready(&s));
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    assert_eq!(condition(&s, "Ready"), "False");

    let missing = observed(3, Some(Deviation::Missing), false);
    let s = status(&desired(true), 3, Some(&missing));
    let w = state(&s).waiting.as_ref().expect("waiting");
    assert_eq!(w.reason.as_deref(), Some("ContainerNotFound"));
    assert!(w.message.as_deref().unwrap().contains("default_web_app"));

    let gone = observed(
        3,
        Some(Deviation::Unreachable("connection refused".into())),
        false,
    );
    let s = status(&desired(true), 3, Some(&gone));
    let w = state(&s).waiting.as_ref().expect("waiting");
    assert_eq!(w.reason.as_deref(), Some("ContainerNotFound"));
    assert_eq!(w.message.as_deref(), Some("connection refused"));
}

#[test]
fn an_observation_older_than_the_last_event_is_ignored() {
    let stopped = observed(3, Some(Deviation::Listed(DeviceState::Stopped)), false);
    let s = status(&desired(true), 4, Some(&stopped));
    assert!(state(&s).running.is_some());
}

// §7.2: a running container failing its readiness probe runs but is not ready.
#[test]
fn readiness_probe_verdict() {
    let unready = observed(3, None, true);
    let s = status(&desired(true), 3, Some(&unready));
    assert!(state(&s).running.is_some() && !ready(&s));
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(condition(&s, "Ready"), "False");
}

#[test]
fn waiting_reasons_of_the_log() {
    let s = status(&desired(false), 3, None);
    assert_eq!(
        state(&s).waiting.as_ref().unwrap().reason.as_deref(),
        Some("ContainerCreating")
    );
    let mut d = desired(true);
    d.containers = BTreeMap::new();
    d.last_failure = Some("boom".into());
    let s = status(&d, 3, None);
    let w = state(&s).waiting.as_ref().unwrap();
    assert_eq!(
        (w.reason.as_deref(), w.message.as_deref()),
        (Some("CreateFailed"), Some("boom"))
    );
    d.failure_reason = "CreateContainerConfigError".into();
    let s = status(&d, 3, None);
    assert_eq!(
        state(&s).waiting.as_ref().unwrap().reason.as_deref(),
        Some("CreateContainerConfigError")
    );
}

#[test]
fn pod_ip_falls_back_to_ipam_and_counts_restarts() {
    let mut d = desired(false);
    d.containers = BTreeMap::new();
    let s = status(&d, 1, None);
    assert_eq!(s.pod_ip.as_deref(), Some("10.0.0.9"));
    assert_eq!(s.host_ip.as_deref(), Some("10.0.0.1"));
    let d = desired(true);
    let units = BTreeMap::from([(
        "default_web_app".to_string(),
        Unit {
            pod: "default/web".into(),
            restart_policy: "Always".into(),
            start_on_boot: true,
            priority: 0,
            depends_on: Vec::new(),
            restarts: 2,
            failed: None,
        },
    )]);
    let network = [net()];
    let s = pod_status(&d, 1, None, &inputs(&units, &network));
    assert_eq!(s.container_statuses.unwrap()[0].restart_count, 2);
}
