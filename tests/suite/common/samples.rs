//! One sample of every event kind in the catalogue. `kind_name` is an exhaustive match, so a
//! new variant does not compile until it has a sample here.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use mkube::events::Event;
use mkube::events::catalogue::*;
use mkube::pod::sample::SamplePod;

pub fn pod(ns: &str, name: &str) -> Pod {
    SamplePod::new(ns, name)
        .container_name("web")
        .image("127.0.0.1:5000/web:v1")
        .build()
}

pub fn all() -> Vec<Event> {
    let s = |x: &str| x.to_string();
    let ip = "127.77.0.5".parse().unwrap();
    vec![
        PodsEvent::PodDeclared {
            namespace: s("default"),
            name: s("web"),
            source: PodSource::Api,
            pod: Box::new(pod("default", "web")),
        }
        .into(),
        PodsEvent::PodUpdated {
            namespace: s("default"),
            name: s("web"),
            pod: Box::new(pod("default", "web")),
        }
        .into(),
        PodsEvent::PodDeleted {
            namespace: s("default"),
            name: s("web"),
        }
        .into(),
        PodsEvent::ContainerCreated {
            namespace: s("default"),
            name: s("web"),
            container: s("web"),
            device_name: s("default_web_web"),
            device_id: s("*1A"),
            adopted: false,
        }
        .into(),
        PodsEvent::ContainerStarted {
            namespace: s("default"),
            name: s("web"),
            container: s("web"),
        }
        .into(),
        PodsEvent::ContainerRemoved {
            namespace: s("default"),
            name: s("web"),
            container: s("web"),
        }
        .into(),
        PodsEvent::PodCreateFailed {
            namespace: s("default"),
            name: s("web"),
            reason: s("ensuring image: down"),
            waiting_reason: String::new(),
        }
        .into(),
        LifecycleEvent::UnitRegistered {
            unit: s("default_web_web"),
            pod: s("default/web"),
            restart_policy: s("Always"),
            start_on_boot: true,
            priority: 10,
            depends_on: vec![s("infra_nats_nats")],
        }
        .into(),
        LifecycleEvent::UnitRestarted {
            unit: s("default_web_web"),
            restarts: 2,
            reason: s("liveness"),
        }
        .into(),
        LifecycleEvent::UnitFailed {
            unit: s("default_web_web"),
            reason: s("max restarts"),
        }
        .into(),
        LifecycleEvent::UnitUnregistered {
            unit: s("default_web_web"),
        }
        .into(),
        IpamEvent::IpAllocated {
            network: s("t"),
            key: s("veth_default_web_0"),
            ip,
            hostname: s("web.web"),
            is_static: false,
        }
        .into(),
        IpamEvent::IpRecorded {
            network: s("t"),
            key: s("veth-mkube"),
            ip,
            hostname: s("veth-mkube"),
        }
        .into(),
        IpamEvent::IpReleased {
            network: s("t"),
            key: s("veth_default_web_0"),
        }
        .into(),
        VethsEvent::VethCreated {
            name: s("veth_default_web_0"),
            network: s("t"),
            address: s("127.77.0.5/24"),
            gateway: s("127.77.0.1"),
            bridge: s("t"),
        }
        .into(),
        VethsEvent::VethRemoved {
            name: s("veth_default_web_0"),
        }
        .into(),
        DnsEvent::ZoneBound {
            network: s("t"),
            zone: s("t.lo"),
            zone_id: s("z1"),
            endpoint: s("http://127.0.0.1:9"),
            namespace: None,
        }
        .into(),
        DnsEvent::RecordRegistered {
            zone: s("t.lo"),
            name: s("web"),
            ip,
            record_id: s("r1"),
            ttl: 60,
        }
        .into(),
        DnsEvent::RecordDeregistered {
            zone: s("t.lo"),
            name: s("web"),
            ip,
        }
        .into(),
        ImagesEvent::ImageResolved {
            reference: s("127.0.0.1:5000/web:v1"),
            digest: s("sha256:aa"),
        }
        .into(),
        ImagesEvent::TarballBuilt {
            reference: s("127.0.0.1:5000/web:v1"),
            digest: s("sha256:aa"),
            path: s("/cache/web.tar"),
            size: 42,
            pulled_at: None,
        }
        .into(),
        ImagesEvent::ImageCleared {
            reference: s("127.0.0.1:5000/web:v1"),
        }
        .into(),
        ConsistencyEvent::NetworkFailureCounted {
            namespace: s("default"),
            name: s("web"),
            failures: 1,
        }
        .into(),
        ConsistencyEvent::NetworkRecovered {
            namespace: s("default"),
            name: s("web"),
        }
        .into(),
        ConsistencyEvent::OrphanReaped {
            resource: s("container"),
            name: s("default_old_web"),
            id: s("*1F"),
            reason: s("CC-R1: no desired or deleting pod claims it"),
        }
        .into(),
    ]
}

/// Samples of kinds added after the tests that count [`all`] were written (their sequence
/// numbers are pinned); round-tripped by their own tests.
pub fn later() -> Vec<Event> {
    let s = |x: &str| x.to_string();
    vec![
        ImagesEvent::PushNotified {
            repository: s("127.0.0.1:5000/web"),
            tag: Some(s("v1")),
        }
        .into(),
        ImagesEvent::PushNotified {
            repository: s("127.0.0.1:5000/web"),
            tag: None,
        }
        .into(),
    ]
}

/// One sample of each ConfigMaps event kind (kept apart: the counts of [`all`] are pinned).
pub fn configmaps() -> Vec<Event> {
    let s = |x: &str| x.to_string();
    vec![
        ConfigMapsEvent::ConfigMapPut {
            namespace: s("default"),
            name: s("app-config"),
            config_map: Box::new(k8s_openapi::api::core::v1::ConfigMap {
                metadata: ObjectMeta {
                    name: Some(s("app-config")),
                    namespace: Some(s("default")),
                    ..Default::default()
                },
                data: Some([(s("app.conf"), s("port = 80\n"))].into()),
                ..Default::default()
            }),
        }
        .into(),
        ConfigMapsEvent::ConfigMapDeleted {
            namespace: s("default"),
            name: s("app-config"),
        }
        .into(),
    ]
}

/// Samples of the kinds the pods engine added (intents and teardown completion).
pub fn engine() -> Vec<Event> {
    let s = |x: &str| x.to_string();
    vec![
        PodsEvent::ContainerCreating {
            namespace: s("default"),
            name: s("web"),
            container: s("web"),
            device_name: s("default_web_web"),
            veth: s("veth_default_web_0"),
            network: s("t"),
            ip: s("127.77.0.5"),
            revision: 0,
            image_digest: s("sha256:aa"),
            env_digest: String::new(),
        }
        .into(),
        PodsEvent::ContainerRemoving {
            namespace: s("default"),
            name: s("web"),
            container: s("web"),
        }
        .into(),
        PodsEvent::PodRemoved {
            namespace: s("default"),
            name: s("web"),
        }
        .into(),
    ]
}

pub fn kind_name(e: &Event) -> &'static str {
    match e {
        Event::Pods(p) => match p {
            PodsEvent::PodDeclared { .. } => "pods.PodDeclared",
            PodsEvent::PodUpdated { .. } => "pods.PodUpdated",
            PodsEvent::PodDeleted { .. } => "pods.PodDeleted",
            PodsEvent::ContainerCreated { .. } => "pods.ContainerCreated",
            PodsEvent::ContainerStarted { .. } => "pods.ContainerStarted",
            PodsEvent::ContainerRemoved { .. } => "pods.ContainerRemoved",
            PodsEvent::PodCreateFailed { .. } => "pods.PodCreateFailed",
            PodsEvent::ContainerCreating { .. } => "pods.ContainerCreating",
            PodsEvent::ContainerRemoving { .. } => "pods.ContainerRemoving",
            PodsEvent::PodRemoved { .. } => "pods.PodRemoved",
        },
        Event::Lifecycle(l) => match l {
            LifecycleEvent::UnitRegistered { .. } => "lifecycle.UnitRegistered",
            LifecycleEvent::UnitRestarted { .. } => "lifecycle.UnitRestarted",
            LifecycleEvent::UnitFailed { .. } => "lifecycle.UnitFailed",
            LifecycleEvent::UnitUnregistered { .. } => "lifecycle.UnitUnregistered",
            LifecycleEvent::UnitRecreating { .. } => "lifecycle.UnitRecreating",
        },
        Event::Ipam(i) => match i {
            IpamEvent::IpAllocated { .. } => "ipam.IpAllocated",
            IpamEvent::IpRecorded { .. } => "ipam.IpRecorded",
            IpamEvent::IpReleased { .. } => "ipam.IpReleased",
        },
        Event::Veths(v) => match v {
            VethsEvent::VethCreated { .. } => "veths.VethCreated",
            VethsEvent::VethRemoved { .. } => "veths.VethRemoved",
        },
        Event::Dns(d) => match d {
            DnsEvent::ZoneBound { .. } => "dns.ZoneBound",
            DnsEvent::RecordRegistered { .. } => "dns.RecordRegistered",
            DnsEvent::RecordDeregistered { .. } => "dns.RecordDeregistered",
        },
        Event::Images(i) => match i {
            ImagesEvent::ImageResolved { .. } => "images.ImageResolved",
            ImagesEvent::TarballBuilt { .. } => "images.TarballBuilt",
            ImagesEvent::ImageCleared { .. } => "images.ImageCleared",
            ImagesEvent::PushNotified { .. } => "images.PushNotified",
        },
        Event::Consistency(c) => match c {
            ConsistencyEvent::NetworkFailureCounted { .. } => "consistency.NetworkFailureCounted",
            ConsistencyEvent::NetworkRecovered { .. } => "consistency.NetworkRecovered",
            ConsistencyEvent::OrphanReaped { .. } => "consistency.OrphanReaped",
        },
        Event::ConfigMaps(c) => match c {
            ConfigMapsEvent::ConfigMapPut { .. } => "configmaps.ConfigMapPut",
            ConfigMapsEvent::ConfigMapDeleted { .. } => "configmaps.ConfigMapDeleted",
        },
    }
}
