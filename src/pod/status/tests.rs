use super::*;
use crate::actors::ipam::state::Allocation;
use crate::actors::observations::{ObservationState, PodObservation};
use crate::actors::pods::state::DeviceContainer;
use crate::events::catalogue::PodSource;
use k8s_openapi::api::core::v1::{Container as K8sContainer, PodSpec};
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

fn status(d: &DesiredPod, seq: u64, obs: Option<&ObservationState>) -> PodStatus {
    let (pods, ipam) = (PodsState::default(), IpamState::default());
    let network = net();
    let inputs = StatusInputs {
        pods: &pods,
        ipam: &ipam,
        networks: std::slice::from_ref(&network),
        node: "n",
        started_at: Utc::now(),
        observations: obs,
    };
    pod_status("default/web", d, seq, &inputs)
}

fn observed(seq: u64, deviation: Option<Deviation>, unready: bool) -> ObservationState {
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
    ObservationState {
        generation: 7,
        pods: [("default/web".to_string(), o)].into(),
    }
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
fn pod_ip_falls_back_to_ipam() {
    let mut d = desired(false);
    d.containers = BTreeMap::new();
    let mut ipam = IpamState::default();
    ipam.pools.entry("t".into()).or_default().insert(
        "veth_default_web_0".into(),
        Allocation {
            ip: "10.0.0.9".parse().unwrap(),
            hostname: "app.web".into(),
            is_static: false,
            from_device: false,
        },
    );
    let net = net();
    let pods = PodsState::default();
    let inputs = StatusInputs {
        pods: &pods,
        ipam: &ipam,
        networks: std::slice::from_ref(&net),
        node: "n",
        started_at: Utc::now(),
        observations: None,
    };
    let s = pod_status("default/web", &d, 1, &inputs);
    assert_eq!(s.pod_ip.as_deref(), Some("10.0.0.9"));
    assert_eq!(s.host_ip.as_deref(), Some("10.0.0.1"));
}
