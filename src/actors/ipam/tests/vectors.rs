//! The vectors of controller.md §4 ("Vectors for tests"), IPAM-1…IPAM-4 and IPAM-7.

use super::{Model, default_pool, ip, pool};
use crate::actors::ipam::pool::IpamError;
use crate::actors::ipam::reserve::Reservations;

fn exhausted(r: Result<std::net::Ipv4Addr, IpamError>) -> String {
    match r {
        Err(e @ IpamError::Exhausted { .. }) => e.to_string(),
        other => panic!("expected exhaustion, got {other:?}"),
    }
}

#[test]
fn ipam2_slash24_hands_out_dot2_then_dot3() {
    let mut m = Model::one(default_pool("172.20.0.0/24"));
    assert_eq!(m.alloc("a").unwrap(), ip("172.20.0.2"));
    assert_eq!(m.alloc("b").unwrap(), ip("172.20.0.3"));
}

#[test]
fn ipam2_slash30_second_call_is_exhausted_with_the_original_message() {
    let mut m = Model::one(default_pool("172.20.0.0/30"));
    assert_eq!(m.alloc("a").unwrap(), ip("172.20.0.2"));
    assert_eq!(
        exhausted(m.alloc("b")),
        "IPAM: no available IPs in 172.20.0.0/30 range 172.20.0.2-172.20.0.2 (all 1 addresses allocated)"
    );
}

#[test]
fn ipam2_release_dot2_and_reallocate_gives_dot2() {
    let mut m = Model::one(default_pool("172.20.0.0/30"));
    assert_eq!(m.alloc("a").unwrap(), ip("172.20.0.2"));
    m.release("a");
    assert_eq!(m.alloc("b").unwrap(), ip("172.20.0.2"));
}

#[test]
fn ipam2_ipam4_recorded_dot5_dot6_are_skipped() {
    let mut m = Model::one(default_pool("172.20.0.0/24"));
    m.record("veth-x", "172.20.0.5");
    m.record("veth-y", "172.20.0.6");
    let got: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .map(|k| m.alloc(k).unwrap())
        .collect();
    assert_eq!(
        got,
        [
            ip("172.20.0.2"),
            ip("172.20.0.3"),
            ip("172.20.0.4"),
            ip("172.20.0.7")
        ]
    );
}

#[test]
fn ipam2_range_200_210_gives_200_then_201() {
    let mut m = Model::one(pool("10.0.0.0/24", "10.0.0.200", "10.0.0.210"));
    assert_eq!(m.alloc("a").unwrap(), ip("10.0.0.200"));
    assert_eq!(m.alloc("b").unwrap(), ip("10.0.0.201"));
}

#[test]
fn ipam2_range_200_201_third_call_is_exhausted() {
    let mut m = Model::one(pool("10.0.0.0/24", "10.0.0.200", "10.0.0.201"));
    m.alloc("a").unwrap();
    m.alloc("b").unwrap();
    assert_eq!(
        exhausted(m.alloc("c")),
        "IPAM: no available IPs in 10.0.0.0/24 range 10.0.0.200-10.0.0.201 (all 2 addresses allocated)"
    );
}

#[test]
fn ipam2_range_200_202_full_release_200_next_is_200() {
    let mut m = Model::one(pool("10.0.0.0/24", "10.0.0.200", "10.0.0.202"));
    for k in ["a", "b", "c"] {
        m.alloc(k).unwrap();
    }
    exhausted(m.alloc("d"));
    m.release("a");
    assert_eq!(m.alloc("d").unwrap(), ip("10.0.0.200"));
}

#[test]
fn ipam2_recorded_200_inside_the_range_gives_201() {
    let mut m = Model::one(pool("10.0.0.0/24", "10.0.0.200", "10.0.0.210"));
    m.record("veth-mkube", "10.0.0.200");
    assert_eq!(m.alloc("a").unwrap(), ip("10.0.0.201"));
}

#[test]
fn ipam2_gateway_inside_the_range_is_never_handed_out() {
    let mut m = Model::one(pool("10.0.0.0/30", "10.0.0.1", "10.0.0.2"));
    assert_eq!(m.alloc("a").unwrap(), ip("10.0.0.2"));
    exhausted(m.alloc("b"));
}

#[test]
fn ipam2_key_holding_an_address_keeps_it_and_appends_nothing() {
    let mut m = Model::one(default_pool("172.20.0.0/24"));
    assert_eq!(m.alloc("a").unwrap(), ip("172.20.0.2"));
    assert_eq!(m.alloc("a").unwrap(), ip("172.20.0.2"));
    assert_eq!(m.appended, 1);
}

#[test]
fn ipam2_cursor_is_not_persisted_but_held_addresses_are() {
    let mut m = Model::one(default_pool("172.20.0.0/24"));
    m.alloc("a").unwrap();
    m.alloc("b").unwrap();
    m.release("a");
    // A restart: fresh pools (cursor at the range start), replayed state.
    let mut again = Model::one(default_pool("172.20.0.0/24"));
    again.state = m.state.clone();
    assert_eq!(again.alloc("c").unwrap(), ip("172.20.0.2"));
    assert_eq!(again.alloc("d").unwrap(), ip("172.20.0.4"));
}

#[test]
fn ipam2_inverted_range_has_no_addresses_instead_of_escaping_it() {
    // Config validation rejects it (IPAM-2 [D]); the pool still never hands out an address
    // outside the range.
    let mut m = Model::one(pool("10.0.0.0/24", "10.0.0.20", "10.0.0.10"));
    exhausted(m.alloc("a"));
}

#[test]
fn ipam3_static_199_then_dynamic_never_returns_199() {
    let mut m = Model::one(default_pool("172.20.0.0/24"));
    assert_eq!(
        m.alloc_static("s", "172.20.0.199").unwrap(),
        ip("172.20.0.199")
    );
    for i in 0..252 {
        let got = m.alloc(&format!("d{i}")).unwrap();
        assert_ne!(got, ip("172.20.0.199"));
    }
    exhausted(m.alloc("last"));
}

#[test]
fn ipam3_static_outside_the_dynamic_range_is_allowed() {
    let mut m = Model::one(pool("10.0.0.0/24", "10.0.0.200", "10.0.0.250"));
    assert_eq!(m.alloc_static("s", "10.0.0.10").unwrap(), ip("10.0.0.10"));
}

#[test]
fn ipam3_static_duplicate_fails_naming_the_holder() {
    let mut m = Model::one(default_pool("172.20.0.0/24"));
    m.alloc_static("veth_a", "172.20.0.50").unwrap();
    let err = m.alloc_static("veth_b", "172.20.0.50").unwrap_err();
    assert_eq!(
        err.to_string(),
        "IP 172.20.0.50 already allocated to veth_a"
    );
    // Also when the holder got it dynamically.
    let dynamic = m.alloc("veth_c").unwrap();
    let err = m.alloc_static("veth_b", &dynamic.to_string()).unwrap_err();
    assert!(matches!(err, IpamError::Taken { holder, .. } if holder == "veth_c"));
}

#[test]
fn ipam3_f_same_owner_static_is_idempotent_and_appends_nothing() {
    let mut m = Model::one(default_pool("172.20.0.0/24"));
    m.alloc_static("s", "172.20.0.50").unwrap();
    assert_eq!(
        m.alloc_static("s", "172.20.0.50").unwrap(),
        ip("172.20.0.50")
    );
    assert_eq!(m.appended, 1);
}

#[test]
fn ipam3_static_for_a_key_holding_another_address_replaces_its_entry() {
    let mut m = Model::one(default_pool("172.20.0.0/24"));
    m.alloc("s").unwrap();
    m.alloc_static("s", "172.20.0.50").unwrap();
    assert_eq!(m.state.pools["n"]["s"].ip, ip("172.20.0.50"));
    assert_eq!(m.state.pools["n"].len(), 1);
    assert_eq!(
        m.state.holder("n", ip("172.20.0.2")),
        None,
        "the old address is free"
    );
}

#[test]
fn ipam3_static_gateway_fails() {
    let mut m = Model::one(default_pool("172.20.0.0/24"));
    let err = m.alloc_static("s", "172.20.0.1").unwrap_err();
    assert_eq!(err, IpamError::Gateway(ip("172.20.0.1")));
}

#[test]
fn ipam3_static_outside_subnet_fails() {
    let mut m = Model::one(default_pool("172.20.0.0/24"));
    let err = m.alloc_static("s", "172.21.0.5").unwrap_err();
    assert!(matches!(err, IpamError::OutsideSubnet { .. }), "{err:?}");
}

#[test]
fn ipam1_unknown_pool_fails_for_static_and_dynamic() {
    let mut m = Model::one(default_pool("172.20.0.0/24"));
    for static_ip in [None, Some("172.20.0.5")] {
        let err = m.alloc_in("nope", "k", static_ip).unwrap_err();
        assert_eq!(err, IpamError::UnknownNetwork("nope".into()));
    }
    assert_eq!(m.appended, 0);
}

#[test]
fn ipam4_record_ignores_conflicts_and_release_of_unknown_key_is_a_noop() {
    let mut m = Model::one(default_pool("172.20.0.0/24"));
    m.alloc("a").unwrap();
    m.record("veth-x", "172.20.0.2");
    assert_eq!(m.state.pools["n"].len(), 2);
    let before = m.state.clone();
    m.release("never");
    assert_eq!(m.state, before);
    assert_eq!(m.appended, 2);
}

#[test]
fn ipam7_reserved_static_is_skipped_by_dynamic_allocation() {
    let mut m = Model::one(pool("10.0.0.0/24", "10.0.0.200", "10.0.0.202"));
    let desired = vec![(
        "veth_g10_dns_0".to_string(),
        "n".to_string(),
        ip("10.0.0.200"),
    )];
    m.reserved = Reservations::from_desired(&desired);
    assert_eq!(m.alloc("a").unwrap(), ip("10.0.0.201"));
    assert_eq!(m.alloc("b").unwrap(), ip("10.0.0.202"));
    exhausted(m.alloc("c"));
    // The owner still gets its static address.
    assert_eq!(
        m.alloc_static("veth_g10_dns_0", "10.0.0.200").unwrap(),
        ip("10.0.0.200")
    );
}

#[test]
fn ipam7_reservation_is_recomputed_from_the_desired_set() {
    let mut m = Model::one(pool("10.0.0.0/24", "10.0.0.200", "10.0.0.201"));
    let desired = vec![("veth_a".to_string(), "n".to_string(), ip("10.0.0.200"))];
    m.reserved = Reservations::from_desired(&desired);
    assert_eq!(m.alloc("x").unwrap(), ip("10.0.0.201"));
    // The pod with the static IP is deleted: the next desired set no longer names it.
    m.reserved = Reservations::from_desired(&[]);
    assert!(m.reserved.is_empty());
    assert_eq!(m.alloc("y").unwrap(), ip("10.0.0.200"));
}

#[test]
fn ipam7_reservation_on_another_network_does_not_block() {
    let mut m = Model::one(pool("10.0.0.0/24", "10.0.0.200", "10.0.0.201"));
    let desired = vec![("veth_a".to_string(), "other".to_string(), ip("10.0.0.200"))];
    m.reserved = Reservations::from_desired(&desired);
    assert_eq!(m.alloc("x").unwrap(), ip("10.0.0.200"));
}
