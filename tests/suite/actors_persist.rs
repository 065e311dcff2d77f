//! Each actor persists its own events and a fresh boot replays them into the same state.

use crate::common;

use common::{NatsServer, cluster, samples};
use mkube::actors::consistency::state::ConsistencyState;
use mkube::actors::dns::state::DnsState;
use mkube::actors::images::state::ImagesState;
use mkube::actors::ipam::state::IpamState;
use mkube::actors::ipam::{Allocate, AllocateError, Release};
use mkube::actors::journal::testing::{Append, Inspect};
use mkube::actors::pods::state::PodsState;
use mkube::actors::pods::{Declare, Delete, PodsError};
use mkube::actors::veths::state::VethsState;
use mkube::events::Event;
use mkube::events::catalogue::*;
use std::net::Ipv4Addr;

fn of_area(pick: impl Fn(&Event) -> bool) -> Vec<Event> {
    samples::all().into_iter().filter(|e| pick(e)).collect()
}

fn rec<E>(event: E) -> Append<E> {
    Append {
        event,
        correlation: "test".into(),
    }
}

#[actix_rt::test]
async fn pods_actor_persists_declarations_and_lifecycle() {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let c = cluster::boot(&cfg).await;
    for name in ["a", "b"] {
        c.pods
            .send(Declare {
                pod: samples::pod("default", name),
                source: PodSource::Api,
                correlation: "t".into(),
            })
            .await
            .unwrap()
            .unwrap();
    }
    let again = c
        .pods
        .send(Declare {
            pod: samples::pod("default", "a"),
            source: PodSource::Api,
            correlation: "t".into(),
        })
        .await
        .unwrap();
    assert!(matches!(again, Err(PodsError::AlreadyExists(_))));
    c.pods
        .send(Delete {
            namespace: "default".into(),
            name: "b".into(),
            correlation: "t".into(),
        })
        .await
        .unwrap()
        .unwrap();
    let missing = c
        .pods
        .send(Delete {
            namespace: "default".into(),
            name: "zz".into(),
            correlation: "t".into(),
        })
        .await
        .unwrap();
    assert!(matches!(missing, Err(PodsError::NotFound(_))));
    for e in of_area(|e| matches!(e, Event::Lifecycle(_)))
        .into_iter()
        .take(2)
    {
        let Event::Lifecycle(l) = e else {
            unreachable!()
        };
        c.pods.send(rec(l)).await.unwrap().unwrap();
    }
    let before = c.pods.send(Inspect::<PodsState>::new()).await.unwrap();
    assert_eq!(before.pods.keys().collect::<Vec<_>>(), ["default/a"]);
    assert_eq!(before.units.len(), 1);
    assert_eq!(before.units["default_web_web"].restarts, 2);
    let replayed = cluster::boot(&cfg).await;
    assert_eq!(
        replayed
            .pods
            .send(Inspect::<PodsState>::new())
            .await
            .unwrap(),
        before
    );
}

#[actix_rt::test]
async fn ipam_actor_persists_allocations_and_keeps_them_after_replay() {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let c = cluster::boot(&cfg).await;
    let alloc = |key: &str, ip: Option<&str>| Allocate {
        network: "t".into(),
        key: key.into(),
        hostname: format!("{key}.pod"),
        static_ip: ip.map(|s| s.parse().unwrap()),
        correlation: "t".into(),
    };
    let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
    assert_eq!(
        c.ipam.send(alloc("v0", None)).await.unwrap().unwrap(),
        ip("127.77.0.100")
    );
    assert_eq!(
        c.ipam.send(alloc("v1", None)).await.unwrap().unwrap(),
        ip("127.77.0.101")
    );
    // Same key again: keeps its address (a retried create), records nothing new.
    assert_eq!(
        c.ipam.send(alloc("v0", None)).await.unwrap().unwrap(),
        ip("127.77.0.100")
    );
    assert_eq!(
        c.ipam
            .send(alloc("s", Some("127.77.0.50")))
            .await
            .unwrap()
            .unwrap(),
        ip("127.77.0.50")
    );
    // IPAM-3 [F]: same owner, same static address → fine; another owner → refused.
    assert_eq!(
        c.ipam
            .send(alloc("s", Some("127.77.0.50")))
            .await
            .unwrap()
            .unwrap(),
        ip("127.77.0.50")
    );
    let taken = c
        .ipam
        .send(alloc("other", Some("127.77.0.50")))
        .await
        .unwrap();
    assert!(matches!(taken, Err(AllocateError::Ipam(_))), "{taken:?}");
    let unknown = Allocate {
        network: "nope".into(),
        ..alloc("x", None)
    };
    assert!(c.ipam.send(unknown).await.unwrap().is_err());
    c.ipam
        .send(Release {
            network: "t".into(),
            key: "v1".into(),
            correlation: "t".into(),
        })
        .await
        .unwrap()
        .unwrap();
    c.ipam
        .send(Release {
            network: "t".into(),
            key: "never".into(),
            correlation: "t".into(),
        })
        .await
        .unwrap()
        .unwrap();
    let log = cluster::log(&cfg).await;
    assert_eq!(
        log.last_sequence().await.unwrap(),
        4,
        "3 allocations + 1 release; no-ops append nothing"
    );

    let before = c.ipam.send(Inspect::<IpamState>::new()).await.unwrap();
    let replayed = cluster::boot(&cfg).await;
    assert_eq!(
        replayed
            .ipam
            .send(Inspect::<IpamState>::new())
            .await
            .unwrap(),
        before
    );
    // After replay the held addresses stay held: the range .100-.102 hands out .101, .102, then none.
    assert_eq!(
        replayed
            .ipam
            .send(alloc("n1", None))
            .await
            .unwrap()
            .unwrap(),
        ip("127.77.0.101")
    );
    assert_eq!(
        replayed
            .ipam
            .send(alloc("n2", None))
            .await
            .unwrap()
            .unwrap(),
        ip("127.77.0.102")
    );
    assert!(
        replayed
            .ipam
            .send(alloc("n3", None))
            .await
            .unwrap()
            .is_err()
    );
}

macro_rules! record_and_replay {
    ($test:ident, $field:ident, $variant:ident, $state:ty, $skip_last:expr) => {
        #[actix_rt::test]
        async fn $test() {
            let nats = NatsServer::start();
            let cfg = cluster::config(&nats.url());
            let c = cluster::boot(&cfg).await;
            let events = of_area(|e| matches!(e, Event::$variant(_)));
            // Leave out a trailing removal so the state is not empty.
            for e in &events[..events.len() - $skip_last] {
                let Event::$variant(inner) = e.clone() else {
                    unreachable!()
                };
                c.$field.send(rec(inner)).await.unwrap().unwrap();
            }
            let before = c.$field.send(Inspect::<$state>::new()).await.unwrap();
            assert_ne!(before, <$state>::default());
            let replayed = cluster::boot(&cfg).await;
            assert_eq!(
                replayed
                    .$field
                    .send(Inspect::<$state>::new())
                    .await
                    .unwrap(),
                before
            );
        }
    };
}

record_and_replay!(
    veths_actor_persists_and_replays,
    veths,
    Veths,
    VethsState,
    1
);
record_and_replay!(dns_actor_persists_and_replays, dns, Dns, DnsState, 1);
record_and_replay!(
    images_actor_persists_and_replays,
    images,
    Images,
    ImagesState,
    1
);
record_and_replay!(
    consistency_actor_persists_and_replays,
    consistency,
    Consistency,
    ConsistencyState,
    0
);
