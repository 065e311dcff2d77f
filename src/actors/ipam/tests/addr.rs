//! §4's DNS server helper and max usable address; device address parsing; NAME-10 [O].

use super::ip;
use crate::actors::ipam::addr::{adopted_hostname, dns_server, max_usable, parse_device_address};

fn net(s: &str) -> ipnet::Ipv4Net {
    s.parse().unwrap()
}

#[test]
fn dns_server_is_broadcast_minus_3() {
    assert_eq!(
        dns_server(net("192.168.10.0/24")),
        Some(ip("192.168.10.252"))
    );
    assert_eq!(dns_server(net("10.0.0.0/16")), Some(ip("10.0.255.252")));
    // Host bits in the CIDR do not matter.
    assert_eq!(dns_server(net("10.0.3.7/16")), Some(ip("10.0.255.252")));
    // A /30 has no room below broadcast − 1 for it.
    assert_eq!(dns_server(net("10.0.0.0/30")), None);
    assert_eq!(dns_server(net("10.0.0.0/29")), Some(ip("10.0.0.4")));
}

#[test]
fn max_usable_is_broadcast_minus_1() {
    assert_eq!(
        max_usable(net("192.168.10.0/24")),
        Some(ip("192.168.10.254"))
    );
    assert_eq!(max_usable(net("10.0.0.0/16")), Some(ip("10.0.255.254")));
    assert_eq!(max_usable(net("10.0.0.0/30")), Some(ip("10.0.0.2")));
    assert_eq!(max_usable(net("10.0.0.0/31")), None);
    assert_eq!(max_usable(net("10.0.0.5/32")), None);
    assert_eq!(max_usable(net("0.0.0.0/0")), Some(ip("255.255.255.254")));
}

#[test]
fn ipam5_device_addresses_cidr_bare_and_lists() {
    assert_eq!(parse_device_address("10.0.0.5/24"), Ok(ip("10.0.0.5")));
    assert_eq!(parse_device_address("10.0.0.5"), Ok(ip("10.0.0.5")));
    assert_eq!(parse_device_address(" 10.0.0.5/24 "), Ok(ip("10.0.0.5")));
    assert_eq!(
        parse_device_address("fd00::5/64,10.0.0.5/24,10.0.0.6/24"),
        Ok(ip("10.0.0.5"))
    );
}

#[test]
fn ipam5_malformed_device_addresses_are_reasons_not_panics() {
    for bad in [
        "",
        ",",
        "garbage",
        "10.0.0.256/24",
        "10.0.0.5/33",
        "10.0.0.5/",
        "10.0.0.5/x",
        "fd00::5/64",
        "fe80::1",
        "/24",
        "10.0.0",
        "💥",
        "10.0.0.5/24/1",
    ] {
        assert!(parse_device_address(bad).is_err(), "{bad:?}");
    }
    assert!(
        parse_device_address("fd00::5/64")
            .unwrap_err()
            .contains("IPv6 only")
    );
}

#[test]
fn name10_o_adopted_hostname_is_the_third_field() {
    assert_eq!(adopted_hostname("veth_g10_dns_0"), "dns");
    assert_eq!(adopted_hostname("veth_default_fastregi_1"), "fastregi");
    assert_eq!(adopted_hostname("veth-mkube"), "veth-mkube");
    assert_eq!(adopted_hostname("veth_x"), "veth_x");
    assert_eq!(adopted_hostname(""), "");
}
