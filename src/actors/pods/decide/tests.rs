//! Every branch of the job's decision, named after the rule it follows.

use super::*;
use crate::actors::ipam::state::Allocation;
use crate::pod::sample::SamplePod;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

const NAME: &str = "default_web_app";
const VETH: &str = "veth_default_web_0";

fn ipam_holding(network: &str, veth: &str, ip: &str) -> IpamState {
    let mut s = IpamState::default();
    s.pools.entry(network.into()).or_default().insert(
        veth.into(),
        Allocation {
            ip: ip.parse().unwrap(),
            hostname: "app.web".into(),
            is_static: false,
            from_device: false,
        },
    );
    s
}

fn observation(containers: &[&str], veths: &[(&str, &str)], ports: &[&str]) -> Observation {
    Observation {
        at: Instant::now(),
        containers: containers
            .iter()
            .map(|s| s.to_string())
            .collect::<HashSet<_>>(),
        veths: veths
            .iter()
            .map(|(v, a)| (v.to_string(), a.to_string()))
            .collect::<HashMap<_, _>>(),
        ports: ports.iter().map(|s| s.to_string()).collect::<HashSet<_>>(),
        holders: HashMap::new(),
    }
}

/// A record at `phase` built from revision 1, network `t`, address 10.0.0.5.
fn rec(phase: Phase) -> DeviceContainer {
    let mut r = DeviceContainer {
        veth: VETH.into(),
        network: "t".into(),
        ip: "10.0.0.5".into(),
        revision: 1,
        image_digest: "sha256:old".into(),
        ..DeviceContainer::named(NAME)
    };
    match phase {
        Phase::Intended => {}
        Phase::Created => r.device_id = "*1".into(),
        Phase::Started => {
            r.device_id = "*1".into();
            r.started = true;
        }
        Phase::Removing => {
            r.device_id = "*1".into();
            r.removing = true;
        }
    }
    r
}

struct Case<'a> {
    ipam: IpamState,
    seen: Option<&'a Observation>,
    network: &'a str,
    static_ip: Option<&'a str>,
    auto: bool,
    revision: u64,
}

impl<'a> Case<'a> {
    fn new() -> Case<'a> {
        Case {
            ipam: IpamState::default(),
            seen: None,
            network: "t",
            static_ip: None,
            auto: false,
            revision: 1,
        }
    }

    fn step(&self, rec: Option<&DeviceContainer>, fetched: &Fetched) -> Step {
        let pod = PodFacts {
            revision: self.revision,
            network: self.network,
            static_ip: self.static_ip.map(|s| s.parse().unwrap()),
            auto_update: self.auto,
            ipam: &self.ipam,
            seen: self.seen,
        };
        let c = ContainerFacts {
            rec,
            device_name: NAME,
            veth: VETH,
        };
        step(&pod, &c, fetched)
    }
}

fn present(yes: bool) -> Fetched {
    Fetched {
        present: Some(yes),
        ..Fetched::default()
    }
}

#[test]
fn s5_bulk_observation_unrecorded_and_unseen_is_created_with_writes_only() {
    let seen = observation(&["other_c"], &[], &[]);
    let case = Case {
        seen: Some(&seen),
        ..Case::new()
    };
    assert_eq!(
        case.step(None, &Fetched::default()),
        Step::Create(How::Fresh { veth_absent: true })
    );
}

#[test]
fn s5_bulk_observation_a_seen_veth_or_port_is_ensured_with_a_read() {
    for seen in [
        observation(&[], &[(VETH, "10.0.0.9/24")], &[]),
        observation(&[], &[], &[VETH]),
    ] {
        let case = Case {
            seen: Some(&seen),
            ..Case::new()
        };
        assert_eq!(
            case.step(None, &Fetched::default()),
            Step::Create(How::Fresh { veth_absent: false })
        );
    }
}

#[test]
fn s3_1_without_an_observation_an_unrecorded_container_is_still_fresh() {
    // No pass since the engine started: the writes fall back to read-and-adopt on a
    // duplicate refusal; only the veth is read first.
    assert_eq!(
        Case::new().step(None, &Fetched::default()),
        Step::Create(How::Fresh { veth_absent: false })
    );
}

#[test]
fn s3_1_step0_a_row_the_observation_shows_is_read_and_adopted() {
    let seen = observation(&[NAME], &[], &[]);
    let case = Case {
        seen: Some(&seen),
        ..Case::new()
    };
    assert_eq!(
        case.step(None, &Fetched::default()),
        Step::Create(How::ReadAndAdopt)
    );
}

#[test]
fn l7_an_intent_without_its_outcome_is_resumed_by_read_and_adopt() {
    let seen = observation(&[], &[], &[]);
    let case = Case {
        seen: Some(&seen),
        ..Case::new()
    };
    let r = rec(Phase::Intended);
    assert_eq!(
        case.step(Some(&r), &Fetched::default()),
        Step::Create(How::ReadAndAdopt),
        "a record always reads, whatever the observation says"
    );
}

#[test]
fn s3_2_a_teardown_cut_short_is_finished_first() {
    let r = rec(Phase::Removing);
    assert_eq!(
        Case::new().step(Some(&r), &Fetched::default()),
        Step::TearDown
    );
}

#[test]
fn s3_3_a_network_move_tears_down_first() {
    let case = Case {
        network: "u",
        ..Case::new()
    };
    let r = rec(Phase::Started);
    assert_eq!(case.step(Some(&r), &Fetched::default()), Step::TearDown);
    // A record from before intents (no network) never counts as moved.
    let mut old = rec(Phase::Started);
    old.network.clear();
    assert_eq!(case.step(Some(&old), &Fetched::default()), Step::Confirm);
}

#[test]
fn s3_3_a_static_ip_change_tears_down_first() {
    let case = Case {
        static_ip: Some("10.0.0.6"),
        ..Case::new()
    };
    assert_eq!(
        case.step(Some(&rec(Phase::Started)), &Fetched::default()),
        Step::TearDown
    );
    let same = Case {
        static_ip: Some("10.0.0.5"),
        ..Case::new()
    };
    assert_eq!(
        same.step(Some(&rec(Phase::Started)), &Fetched::default()),
        Step::Confirm
    );
}

#[test]
fn s5_step4b_ipam_holding_another_address_than_the_static_ip_tears_down_first() {
    let case = Case {
        static_ip: Some("10.0.0.5"),
        ipam: ipam_holding("t", VETH, "10.0.0.77"),
        ..Case::new()
    };
    assert_eq!(
        case.step(Some(&rec(Phase::Started)), &Fetched::default()),
        Step::TearDown
    );
    // Without a static IP, what IPAM holds is not compared.
    let dynamic = Case {
        ipam: ipam_holding("t", VETH, "10.0.0.77"),
        ..Case::new()
    };
    assert_eq!(
        dynamic.step(Some(&rec(Phase::Started)), &Fetched::default()),
        Step::Confirm
    );
}

#[test]
fn s3_3_an_update_rebuilds_a_built_container() {
    let case = Case {
        revision: 2,
        ..Case::new()
    };
    for phase in [Phase::Created, Phase::Started] {
        assert_eq!(
            case.step(Some(&rec(phase)), &Fetched::default()),
            Step::Create(How::Rebuild),
            "{phase:?}"
        );
    }
    // An intent of the old revision is not built: it is resumed, and rebuilt on the next
    // job once its outcome is recorded.
    assert_eq!(
        case.step(Some(&rec(Phase::Intended)), &Fetched::default()),
        Step::Create(How::ReadAndAdopt)
    );
}

#[test]
fn s5_step3c_an_auto_pod_asks_for_the_digest_and_rebuilds_when_it_moved() {
    let case = Case {
        auto: true,
        ..Case::new()
    };
    let r = rec(Phase::Started);
    assert_eq!(case.step(Some(&r), &Fetched::default()), Step::CheckDigest);
    let moved = Fetched {
        digest: Some("sha256:new".into()),
        ..Fetched::default()
    };
    assert_eq!(case.step(Some(&r), &moved), Step::Create(How::Rebuild));
    let same = Fetched {
        digest: Some("sha256:old".into()),
        ..Fetched::default()
    };
    assert_eq!(case.step(Some(&r), &same), Step::Confirm);
    // No digest recorded (`vkube.io/file`), or not auto: no lookup.
    let mut file = rec(Phase::Started);
    file.image_digest.clear();
    assert_eq!(case.step(Some(&file), &Fetched::default()), Step::Confirm);
    assert_eq!(
        Case::new().step(Some(&r), &Fetched::default()),
        Step::Confirm
    );
}

#[test]
fn s5_step3b_a_started_container_still_there_is_kept() {
    let r = rec(Phase::Started);
    assert_eq!(Case::new().step(Some(&r), &present(true)), Step::Keep);
}

#[test]
fn s5_step3b_a_vanished_container_is_read_and_adopted() {
    let r = rec(Phase::Started);
    assert_eq!(
        Case::new().step(Some(&r), &present(false)),
        Step::Create(How::ReadAndAdopt)
    );
}

#[test]
fn s3_1_step7_created_but_never_recorded_started_is_adopted_and_started() {
    let r = rec(Phase::Created);
    assert_eq!(
        Case::new().step(Some(&r), &Fetched::default()),
        Step::Confirm
    );
    for there in [true, false] {
        assert_eq!(
            Case::new().step(Some(&r), &present(there)),
            Step::Create(How::ReadAndAdopt)
        );
    }
}

#[test]
fn every_container_is_decided_within_four_questions() {
    // Whatever the record, the worker's loop (tear down → forget the record, check digest →
    // set it, confirm → set it) ends in Keep or Create.
    let seen = observation(&[NAME], &[], &[]);
    let phases = [
        None,
        Some(Phase::Intended),
        Some(Phase::Created),
        Some(Phase::Started),
        Some(Phase::Removing),
    ];
    for phase in phases {
        for (network, static_ip, auto, revision, there, digest) in combos() {
            let case = Case {
                network,
                static_ip,
                auto,
                revision,
                seen: Some(&seen),
                ..Case::new()
            };
            let mut r = phase.map(rec);
            let mut fetched = Fetched::default();
            let mut asked = 0;
            let last = loop {
                asked += 1;
                assert!(asked <= 4, "{phase:?}: no decision after {asked} questions");
                match case.step(r.as_ref(), &fetched) {
                    Step::TearDown => r = None,
                    Step::CheckDigest => fetched.digest = Some(digest.to_string()),
                    Step::Confirm => fetched.present = Some(there),
                    done => break done,
                }
            };
            assert!(matches!(last, Step::Keep | Step::Create(_)));
        }
    }
}

type Combo = (
    &'static str,
    Option<&'static str>,
    bool,
    u64,
    bool,
    &'static str,
);

fn combos() -> Vec<Combo> {
    let mut out = Vec::new();
    for network in ["t", "u"] {
        for static_ip in [None, Some("10.0.0.5"), Some("10.0.0.6")] {
            for auto in [false, true] {
                for revision in [1, 2] {
                    for there in [false, true] {
                        for digest in ["sha256:old", "sha256:new"] {
                            out.push((network, static_ip, auto, revision, there, digest));
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
fn intent_is_recorded_unless_the_record_intends_it_already() {
    let intent = rec(Phase::Intended);
    assert!(must_record_intent(None, &intent));
    assert!(!must_record_intent(Some(&rec(Phase::Started)), &intent));
    assert!(must_record_intent(Some(&rec(Phase::Removing)), &intent));
    let mut newer = intent.clone();
    newer.revision = 2;
    assert!(must_record_intent(Some(&rec(Phase::Started)), &newer));
}

#[test]
fn a_kept_container_ensures_the_veth_its_record_names() {
    let r = rec(Phase::Started);
    assert_eq!(recorded_veth(&r), Some((VETH, "10.0.0.5".parse().unwrap())));
    let mut no_veth = r.clone();
    no_veth.veth.clear();
    assert_eq!(recorded_veth(&no_veth), None);
    let mut no_ip = r;
    no_ip.ip.clear();
    assert_eq!(recorded_veth(&no_ip), None);
}

#[test]
fn net1_address_static_then_held_then_the_device_veth() {
    let config = Config::default();
    let net = &config.networks[0];
    let on_net = |ip: &str| {
        let mut r = rec(Phase::Started);
        r.network = net.name.clone();
        r.ip = ip.into();
        r
    };
    let static_ip = Some("192.168.200.50".parse().unwrap());
    assert_eq!(
        address(static_ip, Some(&on_net("192.168.200.7")), net, None, VETH),
        Address::Ask(static_ip)
    );
    assert_eq!(
        address(None, Some(&on_net("192.168.200.7")), net, None, VETH),
        Address::Ask(Some("192.168.200.7".parse().unwrap())),
        "what the container held on this network"
    );
    // Held on another network: the device's veth decides; a record claims the name, so
    // it is read even with an observation.
    let seen = observation(&[], &[(VETH, "192.168.200.9/24")], &[]);
    assert_eq!(
        address(None, Some(&rec(Phase::Started)), net, Some(&seen), VETH),
        Address::ReadVeth
    );
    assert_eq!(address(None, None, net, None, VETH), Address::ReadVeth);
    // No record: the observation answers (adoption keeps a running container's address).
    assert_eq!(
        address(None, None, net, Some(&seen), VETH),
        Address::Ask(Some("192.168.200.9".parse().unwrap()))
    );
    let elsewhere = observation(&[], &[(VETH, "10.9.9.9/24")], &[]);
    assert_eq!(
        address(None, None, net, Some(&elsewhere), VETH),
        Address::Ask(None),
        "an address outside the subnet is not wished for"
    );
    let bare = observation(&[], &[(VETH, "")], &[]);
    assert_eq!(
        address(None, None, net, Some(&bare), VETH),
        Address::Ask(None)
    );
    assert_eq!(
        address(None, None, net, Some(&observation(&[], &[], &[])), VETH),
        Address::Ask(None)
    );
}

/// `default/web` with containers `app` and `side`.
fn two_containers() -> Pod {
    SamplePod::new("default", "web")
        .add_container("side")
        .build()
}

#[test]
fn s3_3_containers_an_update_dropped_are_torn_down() {
    let pod = SamplePod::new("default", "web").build();
    let mut d = DesiredPod::new(pod, crate::events::catalogue::PodSource::Api);
    d.containers.insert("app".into(), rec(Phase::Started));
    d.containers.insert("side".into(), rec(Phase::Intended));
    let dropped: Vec<&str> = dropped(&d).into_iter().map(|(n, _)| n).collect();
    assert_eq!(dropped, vec!["side"]);
}

#[test]
fn s3_2_l2_teardown_removes_what_the_record_names() {
    let config = Config::default();
    let pod = two_containers();
    let r = rec(Phase::Started);
    let t = teardown(
        "default",
        "web",
        &pod,
        "app",
        &r,
        &[NAME.to_string()],
        &config,
    );
    assert_eq!(
        t,
        Teardown {
            record_intent: true,
            unregister_unit: true,
            veth: VETH.into(),
            network: Some("t".into()),
            root_dir: format!("{}/{NAME}", config.storage.base_path),
        }
    );
    let again = teardown(
        "default",
        "web",
        &pod,
        "app",
        &rec(Phase::Removing),
        &[],
        &config,
    );
    assert!(!again.record_intent, "ContainerRemoving is recorded once");
    assert!(!again.unregister_unit);
}

#[test]
fn s3_2_records_from_before_intents_fall_back_to_the_naming_rule() {
    let config = Config::default();
    let pod = two_containers();
    let old = DeviceContainer::named("default_web_side");
    let t = teardown("default", "web", &pod, "side", &old, &[], &config);
    assert_eq!(t.veth, "veth_default_web_1");
    assert_eq!(t.network.as_deref(), Some(config.networks[0].name.as_str()));
    let gone = teardown("default", "web", &pod, "gone", &old, &[], &config);
    assert_eq!(
        gone.veth, "veth_default_web_0",
        "a container no longer in the spec"
    );
}

#[test]
fn s3_2_a_deleted_pod_releases_every_spec_veth_it_may_hold() {
    let config = Config::default();
    let pod = two_containers();
    assert_eq!(
        leftover_addresses("default", "web", &pod, &config.networks),
        Some((
            config.networks[0].name.clone(),
            vec!["veth_default_web_0".into(), "veth_default_web_1".into()]
        ))
    );
    assert_eq!(leftover_addresses("default", "web", &pod, &[]), None);
}

#[test]
fn name2_the_pod_on_the_device_keeps_a_colliding_veth_name_else_the_smaller_key() {
    // Namespace and pod name are cut to 15 characters in veth names (NAME-2).
    let long = |ns: &str, name: &str| {
        let pod = SamplePod::new(ns, name).build();
        DesiredPod::new(pod, crate::events::catalogue::PodSource::Api)
    };
    let a = "default/averyveryverylongname-a";
    let b = "default/averyveryverylongname-b";
    let mut pods = BTreeMap::new();
    pods.insert(a.to_string(), long("default", "averyveryverylongname-a"));
    pods.insert(b.to_string(), long("default", "averyveryverylongname-b"));
    pods.insert("default/web".to_string(), long("default", "web"));
    assert_eq!(veth_clash(&pods, a), None, "the smaller key keeps the name");
    assert_eq!(veth_clash(&pods, b).as_deref(), Some(a));
    assert_eq!(veth_clash(&pods, "default/web"), None);
    pods.get_mut(b)
        .unwrap()
        .containers
        .insert("app".into(), rec(Phase::Started));
    assert_eq!(
        veth_clash(&pods, a).as_deref(),
        Some(b),
        "the one on the device keeps it"
    );
    assert_eq!(veth_clash(&pods, b), None);
    assert_eq!(veth_clash(&pods, "default/absent"), None);
}

// §3.1 step 2 / §3.5 force-release: unrecorded NAME-1-shaped holders of the veth are
// released; another pod's container or a name mkube never manages is refused by name.
#[test]
fn holders_of_the_veth() {
    let holding = vec![
        "default_web_app".to_string(),
        "default_ghost_app".to_string(),
        "default_other_app".to_string(),
        "mkube".to_string(),
    ];
    let claimed = |n: &str| n == "default_other_app";
    let v = holders("default_web_app", &holding, claimed);
    assert_eq!(v.release, vec!["default_ghost_app".to_string()]);
    assert_eq!(
        v.refuse,
        vec!["default_other_app".to_string(), "mkube".to_string()]
    );
    let none = holders("default_web_app", &["default_web_app".to_string()], |_| {
        false
    });
    assert_eq!(none, Holders::default(), "its own container is no holder");
}
