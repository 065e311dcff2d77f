//! IPAM-1: one pool per configured network, in configuration order, never a panic.

use super::ip;
use crate::actors::ipam::pools::Pools;
use crate::config::{Config, Network};

fn network(name: &str, cidr: &str, gateway: &str, start: &str, end: &str) -> Network {
    Network {
        name: name.into(),
        cidr: cidr.into(),
        gateway: gateway.into(),
        ipam_start: start.into(),
        ipam_end: end.into(),
        ..Network::default()
    }
}

#[test]
fn ipam1_pools_follow_the_config_with_defaults_and_ranges() {
    let config = Config {
        networks: vec![
            network(
                "g10",
                "192.168.10.0/24",
                "",
                "192.168.10.200",
                "192.168.10.250",
            ),
            network("wide", "192.168.0.0/16", "192.168.0.254", "", ""),
        ],
        ..Config::default()
    };
    let pools = Pools::from_config(&config);
    let g10 = pools.get("g10").unwrap();
    assert_eq!(g10.gateway, ip("192.168.10.1"), "network + 1 by default");
    assert_eq!(
        (g10.first, g10.last),
        (ip("192.168.10.200"), ip("192.168.10.250"))
    );
    let wide = pools.get("wide").unwrap();
    assert_eq!(wide.gateway, ip("192.168.0.254"));
    assert_eq!(
        (wide.first, wide.last),
        (ip("192.168.0.2"), ip("192.168.255.254"))
    );
    // Overlap: the first configured pool wins (IPAM-5 [D]).
    assert_eq!(pools.network_of(ip("192.168.10.7")), Some("g10"));
    assert_eq!(pools.network_of(ip("192.168.11.7")), Some("wide"));
    assert_eq!(pools.network_of(ip("10.0.0.1")), None);
}

#[test]
fn ipam1_an_unvalidated_bad_network_is_left_out_without_panicking() {
    let config = Config {
        networks: vec![
            network("bad-cidr", "10.0.0.0/99", "", "", ""),
            network("bad-gw", "10.1.0.0/24", "nope", "", ""),
            network("bad-start", "10.2.0.0/24", "", "x", ""),
            network("ok", "10.3.0.0/24", "", "", ""),
        ],
        ..Config::default()
    };
    let pools = Pools::from_config(&config);
    for bad in ["bad-cidr", "bad-gw", "bad-start"] {
        assert!(pools.get(bad).is_none(), "{bad}");
    }
    assert!(pools.get("ok").is_some());
}
