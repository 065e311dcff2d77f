//! IPAM-5/IPAM-6 sync from the device and NAME-10 hostnames, decided by `sync::plan`.

use super::{Model, default_pool, ip, pool};
use crate::actors::ipam::sync::{SyncPlan, plan};
use crate::events::catalogue::IpamEvent;
use std::collections::BTreeMap;

fn veths(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, a)| (n.to_string(), a.to_string()))
        .collect()
}

/// Two networks: `a` = 10.0.0.0/24 (range .200–.250), `b` = 10.1.0.0/24.
fn model() -> Model {
    Model::new(vec![
        ("a", pool("10.0.0.0/24", "10.0.0.200", "10.0.0.250")),
        ("b", default_pool("10.1.0.0/24")),
    ])
}

/// Plans a pass, folds its events into the model, and returns the plan.
fn sync(m: &mut Model, hostnames: &BTreeMap<String, String>, list: &[(&str, &str)]) -> SyncPlan {
    let p = plan(&m.pools, &m.state, hostnames, &veths(list));
    for e in p.events.clone() {
        m.push(e);
    }
    p
}

fn recorded(network: &str, key: &str, at: &str, hostname: &str) -> IpamEvent {
    IpamEvent::IpRecorded {
        network: network.into(),
        key: key.into(),
        ip: ip(at),
        hostname: hostname.into(),
    }
}

fn released(network: &str, key: &str) -> IpamEvent {
    IpamEvent::IpReleased {
        network: network.into(),
        key: key.into(),
    }
}

#[test]
fn ipam5_foreign_veths_are_recorded_under_their_own_name_and_block_allocation() {
    let mut m = model();
    let p = sync(
        &mut m,
        &BTreeMap::new(),
        &[
            ("veth-mkube", "10.0.0.200/24"),
            ("veth_g10_dns_0", "10.1.0.2"),
        ],
    );
    assert_eq!(
        p.events,
        [
            recorded("a", "veth-mkube", "10.0.0.200", "veth-mkube"),
            recorded("b", "veth_g10_dns_0", "10.1.0.2", "dns"),
        ]
    );
    assert!(p.ignored.is_empty());
    assert!(m.state.pools["a"]["veth-mkube"].from_device);
    assert_eq!(m.alloc_in("a", "k", None).unwrap(), ip("10.0.0.201"));
    assert_eq!(m.alloc_in("b", "k", None).unwrap(), ip("10.1.0.3"));
}

#[test]
fn ipam5_a_second_identical_pass_appends_nothing() {
    let mut m = model();
    let list = [
        ("veth-mkube", "10.0.0.200/24"),
        ("veth_x_y_0", "10.1.0.9/24"),
    ];
    assert_eq!(sync(&mut m, &BTreeMap::new(), &list).events.len(), 2);
    let before = m.state.clone();
    let again = sync(&mut m, &BTreeMap::new(), &list);
    assert_eq!(again, SyncPlan::default());
    assert_eq!(m.state, before);
}

#[test]
fn ipam5_an_allocation_the_device_agrees_with_appends_nothing() {
    let mut m = model();
    let got = m.alloc_in("a", "veth_default_web_0", None).unwrap();
    let p = sync(
        &mut m,
        &BTreeMap::new(),
        &[("veth_default_web_0", &format!("{got}/24"))],
    );
    assert!(p.events.is_empty());
    assert!(!m.state.pools["a"]["veth_default_web_0"].from_device);
}

#[test]
fn ipam6_device_wins_over_a_replayed_allocation_with_another_address() {
    let mut m = model();
    m.alloc_in("a", "veth_default_web_0", None).unwrap(); // .200
    let p = sync(
        &mut m,
        &BTreeMap::new(),
        &[("veth_default_web_0", "10.0.0.222/24")],
    );
    // The hostname mkube recorded is kept.
    assert_eq!(
        p.events,
        [recorded(
            "a",
            "veth_default_web_0",
            "10.0.0.222",
            "veth_default_web_0.pod"
        )]
    );
    let held = &m.state.pools["a"]["veth_default_web_0"];
    assert_eq!(
        (held.ip, held.hostname.as_str()),
        (ip("10.0.0.222"), "veth_default_web_0.pod")
    );
    assert_eq!(m.state.holder("a", ip("10.0.0.200")), None);
}

#[test]
fn ipam6_device_wins_across_networks_the_old_entry_is_released() {
    let mut m = model();
    m.alloc_in("a", "veth_x_y_0", None).unwrap();
    let p = sync(&mut m, &BTreeMap::new(), &[("veth_x_y_0", "10.1.0.7/24")]);
    assert_eq!(
        p.events,
        [
            released("a", "veth_x_y_0"),
            recorded("b", "veth_x_y_0", "10.1.0.7", "veth_x_y_0.pod"),
        ]
    );
    assert_eq!(m.state.networks_of("veth_x_y_0").collect::<Vec<_>>(), ["b"]);
}

#[test]
fn ipam6_allocation_without_a_device_veth_is_kept_intent_before_effect() {
    let mut m = model();
    m.alloc_in("a", "veth_mid_create_0", None).unwrap();
    let before = m.state.clone();
    let p = sync(&mut m, &BTreeMap::new(), &[]);
    assert!(p.events.is_empty());
    assert_eq!(m.state, before);
}

#[test]
fn ipam6_stale_claim_on_an_address_a_veth_carries_is_released() {
    let mut m = model();
    m.alloc_in("a", "veth_stale_0", None).unwrap(); // .200, never created
    let p = sync(&mut m, &BTreeMap::new(), &[("veth-other", "10.0.0.200/24")]);
    assert_eq!(
        p.events,
        [
            released("a", "veth_stale_0"),
            recorded("a", "veth-other", "10.0.0.200", "veth-other"),
        ]
    );
}

#[test]
fn ipam6_two_veths_carrying_one_address_are_both_recorded() {
    let mut m = model();
    let p = sync(
        &mut m,
        &BTreeMap::new(),
        &[("v1", "10.0.0.5/24"), ("v2", "10.0.0.5/24")],
    );
    assert_eq!(p.events.len(), 2);
    assert_eq!(m.state.pools["a"].len(), 2);
    assert!(
        sync(
            &mut m,
            &BTreeMap::new(),
            &[("v1", "10.0.0.5/24"), ("v2", "10.0.0.5")]
        )
        .events
        .is_empty()
    );
}

#[test]
fn ipam5_malformed_ipv6_and_out_of_pool_addresses_are_ignored() {
    let mut m = model();
    let before = m.state.clone();
    let p = sync(
        &mut m,
        &BTreeMap::new(),
        &[
            ("g1", "garbage"),
            ("g2", ""),
            ("g3", "fd00::5/64"),
            ("g4", "192.168.99.5/24"),
            ("g5", "10.0.0.300/24"),
            ("g6", "10.0.0.5/99"),
        ],
    );
    assert!(p.events.is_empty());
    assert_eq!(
        p.ignored
            .iter()
            .map(|i| i.veth.as_str())
            .collect::<Vec<_>>(),
        ["g1", "g2", "g3", "g4", "g5", "g6"]
    );
    assert!(
        p.ignored[3].reason.contains("no configured pool"),
        "{:?}",
        p.ignored[3]
    );
    assert_eq!(m.state, before);
}

#[test]
fn ipam5_dual_stack_address_uses_its_first_ipv4_entry() {
    let mut m = model();
    let p = sync(&mut m, &BTreeMap::new(), &[("v", "fd00::5/64,10.1.0.5/24")]);
    assert_eq!(p.events, [recorded("b", "v", "10.1.0.5", "v")]);
}

#[test]
fn ipam5_a_veth_listed_twice_counts_once() {
    let mut m = model();
    let p = sync(
        &mut m,
        &BTreeMap::new(),
        &[("v", "10.0.0.5/24"), ("v", "10.0.0.6/24")],
    );
    assert_eq!(p.events, [recorded("a", "v", "10.0.0.5", "v")]);
    assert_eq!(p.ignored.len(), 1);
}

#[test]
fn ipam5_d_overlapping_pools_use_config_order() {
    let mut m = Model::new(vec![
        ("wide", default_pool("10.0.0.0/16")),
        ("narrow", default_pool("10.0.1.0/24")),
    ]);
    let p = sync(&mut m, &BTreeMap::new(), &[("v", "10.0.1.5/24")]);
    assert_eq!(p.events, [recorded("wide", "v", "10.0.1.5", "v")]);
    let mut m = Model::new(vec![
        ("narrow", default_pool("10.0.1.0/24")),
        ("wide", default_pool("10.0.0.0/16")),
    ]);
    let p = sync(&mut m, &BTreeMap::new(), &[("v", "10.0.1.5/24")]);
    assert_eq!(p.events, [recorded("narrow", "v", "10.0.1.5", "v")]);
}

#[test]
fn ipam5_sync_never_removes_other_entries() {
    let mut m = model();
    m.alloc_in("a", "k1", None).unwrap();
    m.alloc_in("b", "k2", Some("10.1.0.50")).unwrap();
    m.record("foreign", "10.0.0.7");
    let before = m.state.clone();
    let p = sync(&mut m, &BTreeMap::new(), &[("unrelated", "10.1.0.99/24")]);
    assert_eq!(p.events.len(), 1);
    for (network, keys) in &before.pools {
        for (k, a) in keys {
            assert_eq!(m.state.pools[network].get(k), Some(a));
        }
    }
}

#[test]
fn name10_d_adopted_veth_of_a_desired_pod_gets_container_dot_pod() {
    let mut m = model();
    let hostnames = BTreeMap::from([("veth_g10_dns_0".to_string(), "microdns.dns".to_string())]);
    let p = sync(
        &mut m,
        &hostnames,
        &[
            ("veth_g10_dns_0", "10.0.0.2/24"),
            ("veth_g10_other_0", "10.0.0.3/24"),
        ],
    );
    assert_eq!(
        p.events,
        [
            recorded("a", "veth_g10_dns_0", "10.0.0.2", "microdns.dns"),
            recorded("a", "veth_g10_other_0", "10.0.0.3", "other"),
        ]
    );
    let ports = m.state.ports("a");
    assert_eq!(ports[0].hostname, "microdns.dns");
}

#[test]
fn ipam5_allocations_and_ports_queries() {
    let mut m = model();
    m.alloc_in("a", "veth_a_web_0", None).unwrap();
    sync(&mut m, &BTreeMap::new(), &[("veth-mkube", "10.1.0.2/24")]);
    let all = m.state.allocations();
    assert_eq!(
        all,
        BTreeMap::from([
            ("veth-mkube".to_string(), ip("10.1.0.2")),
            ("veth_a_web_0".to_string(), ip("10.0.0.200")),
        ])
    );
    let ports = m.state.ports("a");
    assert_eq!(ports.len(), 1);
    assert_eq!(
        (
            ports[0].name.as_str(),
            ports[0].ip,
            ports[0].hostname.as_str()
        ),
        ("veth_a_web_0", ip("10.0.0.200"), "veth_a_web_0.pod")
    );
    assert!(m.state.ports("nope").is_empty());
}

#[test]
fn ip_recorded_without_hostname_decodes_and_keeps_the_held_hostname() {
    let old = r#"{"kind":"IpRecorded","payload":{"network":"a","key":"k","ip":"10.0.0.9"}}"#;
    let event: IpamEvent = serde_json::from_str(old).unwrap();
    assert_eq!(event, recorded("a", "k", "10.0.0.9", ""));
    let mut m = model();
    m.alloc_in("a", "k", None).unwrap();
    m.push(event);
    let held = &m.state.pools["a"]["k"];
    assert_eq!((held.ip, held.hostname.as_str()), (ip("10.0.0.9"), "k.pod"));
    // An empty hostname is not written, so old readers see the old shape.
    let json = serde_json::to_string(&recorded("a", "k", "10.0.0.9", "")).unwrap();
    assert!(!json.contains("hostname"), "{json}");
}
