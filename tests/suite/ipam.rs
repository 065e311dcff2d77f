//! The ipam actor against a real nats-server: allocations survive replay (IPAM-6), sync from
//! the device (IPAM-5/IPAM-6), static reservations (IPAM-7), NAME-10 hostnames, queries.
//!
//! Network `t` of `cluster::config` is 127.77.0.0/24 with the dynamic range .100–.102;
//! network `u` is 127.78.0.0/24 with the default range.

use crate::common;

use common::{NatsServer, cluster};
use mkube::actors::ipam::pool::IpamError;
use mkube::actors::ipam::state::IpamState;
use mkube::actors::ipam::{
    Allocate, AllocateError, GetAllocations, GetPorts, IpamActor, Release, ReserveStatics,
    SetDesiredHostnames, SyncObserved, SyncReport,
};
use mkube::actors::journal::testing::Inspect;
use mkube::config::Config;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn alloc(key: &str, static_ip: Option<&str>) -> Allocate {
    Allocate {
        network: "t".into(),
        key: key.into(),
        hostname: format!("web.{key}"),
        static_ip: static_ip.map(ip),
        correlation: "test".into(),
    }
}

fn observed(list: &[(&str, &str)]) -> SyncObserved {
    SyncObserved {
        veths: list
            .iter()
            .map(|(n, a)| (n.to_string(), a.to_string()))
            .collect(),
    }
}

async fn sync(a: &actix::Addr<IpamActor>, list: &[(&str, &str)]) -> SyncReport {
    a.send(observed(list))
        .await
        .expect("actor alive")
        .expect("sync")
}

async fn state(a: &actix::Addr<IpamActor>) -> IpamState {
    a.send(Inspect::<IpamState>::new()).await.unwrap()
}

async fn last_seq(cfg: &Config) -> u64 {
    cluster::log(cfg).await.last_sequence().await.unwrap()
}

// IPAM-6: allocations are events, replay restores them; then the device wins for the
// addresses its veths carry, and an allocation without a veth is kept (intent before effect).
#[actix_rt::test]
async fn ipam6_allocations_survive_replay_then_device_wins_and_missing_veths_are_kept() {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let c = cluster::boot(&cfg).await;
    assert_eq!(
        c.ipam.send(alloc("veth_a", None)).await.unwrap().unwrap(),
        ip("127.77.0.100")
    );
    assert_eq!(
        c.ipam.send(alloc("veth_b", None)).await.unwrap().unwrap(),
        ip("127.77.0.101")
    );
    let before = state(&c.ipam).await;

    let replayed = cluster::boot(&cfg).await;
    assert_eq!(state(&replayed.ipam).await, before);
    // veth_a carries another address on the device; veth_b was never created.
    let report = sync(&replayed.ipam, &[("veth_a", "127.77.0.50/24")]).await;
    assert_eq!(report.appended, 1);
    let after = state(&replayed.ipam).await;
    let a = &after.pools["t"]["veth_a"];
    assert_eq!(
        (a.ip, a.hostname.as_str()),
        (ip("127.77.0.50"), "web.veth_a")
    );
    assert_eq!(after.pools["t"]["veth_b"].ip, ip("127.77.0.101"));
    // .100 is free again; .101 stays held by veth_b's intent.
    assert_eq!(
        replayed
            .ipam
            .send(alloc("veth_c", None))
            .await
            .unwrap()
            .unwrap(),
        ip("127.77.0.100")
    );
    assert_eq!(last_seq(&cfg).await, 4);

    // And the corrected state itself survives replay.
    let again = cluster::boot(&cfg).await;
    assert_eq!(state(&again.ipam).await, state(&replayed.ipam).await);
}

// IPAM-5: veths mkube did not create are recorded under their own name, which keeps their
// addresses out of dynamic allocation; NAME-10 [O] hostname; the queries show them.
#[actix_rt::test]
async fn ipam5_sync_records_foreign_veths_and_keeps_them_out_of_allocation() {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let c = cluster::boot(&cfg).await;
    let report = sync(
        &c.ipam,
        &[
            ("veth-mkube", "127.77.0.100/24"),
            ("veth_infra_nats_0", "127.78.0.9"),
        ],
    )
    .await;
    assert_eq!(report.appended, 2);
    assert!(report.ignored.is_empty());
    assert_eq!(
        c.ipam.send(alloc("veth_a", None)).await.unwrap().unwrap(),
        ip("127.77.0.101")
    );
    let taken = c
        .ipam
        .send(alloc("veth_s", Some("127.77.0.100")))
        .await
        .unwrap();
    assert!(
        matches!(&taken, Err(AllocateError::Ipam(IpamError::Taken { holder, .. })) if holder == "veth-mkube"),
        "{taken:?}"
    );

    let all = c.ipam.send(GetAllocations).await.unwrap();
    assert_eq!(
        all,
        BTreeMap::from([
            ("veth-mkube".to_string(), ip("127.77.0.100")),
            ("veth_a".to_string(), ip("127.77.0.101")),
            ("veth_infra_nats_0".to_string(), ip("127.78.0.9")),
        ])
    );
    let ports = c
        .ipam
        .send(GetPorts {
            network: "u".into(),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(
        (
            ports[0].name.as_str(),
            ports[0].ip,
            ports[0].hostname.as_str()
        ),
        ("veth_infra_nats_0", ip("127.78.0.9"), "nats")
    );
    let unknown = c
        .ipam
        .send(GetPorts {
            network: "nope".into(),
        })
        .await
        .unwrap();
    assert_eq!(unknown, Err(IpamError::UnknownNetwork("nope".into())));

    // Recorded entries survive replay like allocations.
    let replayed = cluster::boot(&cfg).await;
    assert_eq!(state(&replayed.ipam).await, state(&c.ipam).await);
}

// IPAM-5 / DESIGN: a pass where nothing differs appends no event.
#[actix_rt::test]
async fn ipam5_noop_sync_appends_nothing() {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let c = cluster::boot(&cfg).await;
    let got = c.ipam.send(alloc("veth_a", None)).await.unwrap().unwrap();
    let list = [
        ("veth_a", format!("{got}/24")),
        ("veth-mkube", "127.77.0.5/24".to_string()),
    ];
    let list: Vec<(&str, &str)> = list.iter().map(|(n, a)| (*n, a.as_str())).collect();
    assert_eq!(
        sync(&c.ipam, &list).await.appended,
        1,
        "only veth-mkube is new"
    );
    let seq = last_seq(&cfg).await;
    assert_eq!(seq, 2);
    for _ in 0..3 {
        assert_eq!(sync(&c.ipam, &list).await.appended, 0);
    }
    // An empty device list removes nothing and appends nothing either.
    assert_eq!(sync(&c.ipam, &[]).await.appended, 0);
    assert_eq!(last_seq(&cfg).await, seq);
    assert_eq!(state(&c.ipam).await.pools["t"].len(), 2);
}

// IPAM-5: whatever the device prints, sync never panics; unusable addresses are ignored.
#[actix_rt::test]
async fn ipam5_malformed_device_addresses_are_ignored_without_panic() {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let c = cluster::boot(&cfg).await;
    let long = "9".repeat(100_000);
    let bad = [
        ("g-garbage", "not an address"),
        ("g-empty", ""),
        ("g-v6", "fd00::5/64"),
        ("g-v6-link", "fe80::1"),
        ("g-out-of-pool", "10.99.0.5/24"),
        ("g-octet", "127.77.0.300/24"),
        ("g-prefix", "127.77.0.5/77"),
        ("g-commas", ",,,"),
        ("g-unicode", "１２７.77.0.5"),
        ("g-long", long.as_str()),
    ];
    let report = sync(&c.ipam, &bad).await;
    assert_eq!(report.appended, 0);
    assert_eq!(report.ignored.len(), bad.len());
    // The actor is alive and unchanged; a mix still records the good entry.
    assert_eq!(state(&c.ipam).await, IpamState::default());
    let report = sync(&c.ipam, &[("g-garbage", "x"), ("ok", "127.77.0.7/24")]).await;
    assert_eq!((report.appended, report.ignored.len()), (1, 1));
    assert_eq!(last_seq(&cfg).await, 1);
}

// IPAM-7 [D]: a desired pod's static IP is never handed out dynamically; the reservation is
// recomputed from the desired set, so a deleted pod's address becomes available again.
#[actix_rt::test]
async fn ipam7_reserved_static_is_kept_from_dynamic_allocation_until_the_pod_is_gone() {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let c = cluster::boot(&cfg).await;
    let dns = (
        "veth_g10_dns_0".to_string(),
        "t".to_string(),
        ip("127.77.0.100"),
    );
    c.ipam
        .send(ReserveStatics {
            desired: vec![dns.clone()],
        })
        .await
        .unwrap();
    assert_eq!(
        c.ipam.send(alloc("veth_a", None)).await.unwrap().unwrap(),
        ip("127.77.0.101")
    );
    assert_eq!(
        c.ipam.send(alloc("veth_b", None)).await.unwrap().unwrap(),
        ip("127.77.0.102")
    );
    let full = c.ipam.send(alloc("veth_c", None)).await.unwrap();
    assert!(
        matches!(full, Err(AllocateError::Ipam(IpamError::Exhausted { .. }))),
        "{full:?}"
    );
    // The owner gets its reserved address (IPAM-3) when it is created.
    assert_eq!(
        c.ipam
            .send(alloc("veth_g10_dns_0", Some("127.77.0.100")))
            .await
            .unwrap()
            .unwrap(),
        ip("127.77.0.100")
    );
    // The pod is deleted: its address is released and the desired set no longer names it.
    c.ipam
        .send(Release {
            network: "t".into(),
            key: "veth_g10_dns_0".into(),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
    c.ipam
        .send(ReserveStatics { desired: vec![] })
        .await
        .unwrap();
    assert_eq!(
        c.ipam.send(alloc("veth_c", None)).await.unwrap().unwrap(),
        ip("127.77.0.100")
    );
    // Reservations are not events: 2 allocations + 1 static + 1 release + 1 allocation.
    assert_eq!(last_seq(&cfg).await, 5);
}

// NAME-10 [D]: an adopted veth of a desired pod records `<container>.<pod>`; others [O].
#[actix_rt::test]
async fn name10_adopted_veths_get_the_desired_hostname_else_the_third_field() {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let c = cluster::boot(&cfg).await;
    c.ipam
        .send(SetDesiredHostnames {
            hostnames: vec![("veth_g10_dns_0".into(), "microdns.dns".into())],
        })
        .await
        .unwrap();
    sync(
        &c.ipam,
        &[
            ("veth_g10_dns_0", "127.77.0.10/24"),
            ("veth_g10_old_0", "127.77.0.11/24"),
        ],
    )
    .await;
    let ports = c
        .ipam
        .send(GetPorts {
            network: "t".into(),
        })
        .await
        .unwrap()
        .unwrap();
    let names: Vec<_> = ports
        .iter()
        .map(|p| (p.name.as_str(), p.hostname.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("veth_g10_dns_0", "microdns.dns"),
            ("veth_g10_old_0", "old")
        ]
    );
}
