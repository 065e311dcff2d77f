//! The repair pass end to end (controller.md §6.3): real nats-server, the RouterOS simulator
//! over loopback with device state planted through its REST API, an in-process standalone
//! cluster whose passes the test runs (`RunRepair`). Orphans of mkube's naming are reaped and
//! recorded (CC-R1, CC-R2, CC-R3), foreign containers are kept (LC-1 keeps them running),
//! broken networks are rebuilt after three passes (CC-R4), a quiet pass changes nothing, and
//! the guards (L-1) and the dry run hold reaps back.

use crate::common::{self, cluster};
use crate::consistency_support::*;
use crate::engine_support::*;
use mkube::actors::ipam::Allocate;
use mkube::actors::pods::Recreated;
use mkube::events::catalogue::ConsistencyEvent;
use mkube::metrics::Metrics;
use serde_json::json;
use std::time::{Duration, Instant};

async fn allocate(c: &mkube::actors::wiring::Cluster, veth: &str, ip: &str) {
    c.ipam
        .send(Allocate {
            network: "t".into(),
            key: veth.into(),
            hostname: String::new(),
            static_ip: Some(ip.parse().unwrap()),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
}

// CC-R1, CC-R2, CC-R3 with LC-1 and L-2: beside two running pods, an orphan container and
// veth of mkube's naming (NAME-1, NAME-2) are reaped — container, mount lists, bridge port,
// veth and the address IPAM learned for it — and an allocation whose veth vanished is
// released; each removal is an `OrphanReaped` fact saying why. A start-on-boot container
// without `_` (`selfctl`, the controller's own) and one with a single `_` (`ops_tool`, an
// operator's) are not NAME-1 names: they stay, running. The next pass is quiet: no device
// write, no event.
#[actix_rt::test]
async fn orphans_of_mkubes_naming_are_reaped_and_recorded_foreign_ones_kept() {
    let mut env = env().await;
    env.cfg = checker(env.cfg.clone());
    let metrics = Metrics::new();
    let c = cluster::boot_with_metrics(&env.cfg, metrics.clone()).await;
    declare_created(&c, pod("a", &[])).await;
    declare_created(&c, pod("b", &[])).await;
    plant_orphan(&env, "default", "gone", "127.77.0.30/24").await;
    plant_foreign(&env.h, "selfctl").await;
    plant_foreign(&env.h, "ops_tool").await;
    allocate(&c, "veth_default_vanished_0", "127.77.0.40").await;

    let report = repair(&c).await;
    assert_eq!(report.skipped, None, "{report:?}");
    assert_eq!(report.refused, None, "{report:?}");
    assert_eq!(
        report.reaped,
        vec![
            pair("container", "default_gone_app"),
            pair("veth", "veth_default_gone_0"),
            pair("allocation", "veth_default_vanished_0"),
        ]
    );
    assert!(report.failed.is_empty(), "{report:?}");
    let text = metrics.render();
    for resource in ["container", "veth", "allocation"] {
        let reaps = format!("mkube_consistency_reaps_total{{resource=\"{resource}\"}}");
        assert_eq!(common::series(&text, &reaps), Some(1.0), "{text}");
    }
    gone_from_device(&env.h, "default_gone_app", "veth_default_gone_0").await;
    let pool = ipam_state(&c).await.pools["t"].clone();
    assert!(!pool.contains_key("veth_default_gone_0"), "{pool:?}");
    assert!(!pool.contains_key("veth_default_vanished_0"), "{pool:?}");
    for kept in ["default_a_app", "default_b_app", "selfctl", "ops_tool"] {
        assert!(running(&env.h, kept).await, "{kept} kept running");
    }
    let recorded = facts(&c.log).await;
    assert_eq!(reaped(&recorded), report.reaped, "one fact per reap");
    let ConsistencyEvent::OrphanReaped { id, reason, .. } = &recorded[0] else {
        panic!("{recorded:?}");
    };
    assert!(id.starts_with('*'), "the device id: {id}");
    assert!(
        reason.starts_with("CC-R1: no desired or deleting pod claims it"),
        "{reason}"
    );

    // A quiet pass: nothing written to the device, nothing appended.
    env.h.clear_journal().await;
    let before = c.log.last_sequence().await.unwrap();
    let quiet = repair(&c).await;
    assert!(
        quiet.reaped.is_empty() && quiet.counted.is_empty(),
        "{quiet:?}"
    );
    assert!(
        writes(&env.h).await.is_empty(),
        "{:?}",
        writes(&env.h).await
    );
    assert_eq!(c.log.last_sequence().await.unwrap(), before, "no event");
}

// §6.3: a pass follows creates (a settled pod job) and reconcile passes by itself, after the
// configured delay; nothing has to ask for it.
#[actix_rt::test]
async fn a_pass_follows_creates_and_reconcile_passes() {
    let mut env = env().await;
    env.cfg = checker(env.cfg.clone());
    env.cfg.consistency.delay_seconds = 0.1;
    let c = cluster::boot(&env.cfg).await;
    plant_orphan(&env, "default", "early", "127.77.0.31/24").await;
    declare_created(&c, pod("a", &[])).await;
    wait_until("the orphan is reaped after a create", 20, || async {
        container_id(&env.h, "default_early_app").await.is_none()
    })
    .await;
    plant_orphan(&env, "default", "late", "127.77.0.32/24").await;
    pass(&c).await;
    wait_until(
        "the orphan is reaped after a reconcile pass",
        20,
        || async { container_id(&env.h, "default_late_app").await.is_none() },
    )
    .await;
    assert!(running(&env.h, "default_a_app").await);
}

// L-1 (c) safeToReap: with nothing desired, mkube-named objects on the device are not reaped
// (an empty desired set is not a licence to delete the fleet); the pass stops and the report
// says why. L-1 (d): a pass that would reap more than `maxReapFraction` of a class stops too.
#[actix_rt::test]
async fn an_empty_desired_set_or_a_large_sweep_is_refused() {
    let mut env = env().await;
    env.cfg = checker(env.cfg.clone());
    let metrics = Metrics::new();
    let c = cluster::boot_with_metrics(&env.cfg, metrics.clone()).await;
    plant_orphan(&env, "default", "x1", "127.77.0.31/24").await;
    let report = repair(&c).await;
    let refused = report.refused.clone().unwrap_or_default();
    assert!(refused.contains("safeToReap"), "{report:?}");
    assert!(report.reaped.is_empty());
    assert!(running(&env.h, "default_x1_app").await);

    // One pod desired, two orphans: 2 of 3 managed containers is more than half.
    declare_created(&c, pod("a", &[])).await;
    plant_orphan(&env, "default", "x2", "127.77.0.32/24").await;
    let report = repair(&c).await;
    let refused = report.refused.clone().unwrap_or_default();
    assert!(
        refused.contains("would reap 2 of 3 managed containers"),
        "{report:?}"
    );
    for name in ["default_x1_app", "default_x2_app", "default_a_app"] {
        assert!(running(&env.h, name).await, "{name}");
    }
    assert!(reaped(&facts(&c.log).await).is_empty());
    let text = metrics.render();
    let refused = r#"mkube_consistency_passes_stopped_total{reason="refused"}"#;
    assert_eq!(common::series(&text, refused), Some(2.0), "{text}");
    let reaps = r#"mkube_consistency_reaps_total{resource="container"}"#;
    assert_eq!(common::series(&text, reaps), Some(0.0), "{text}");
    // A larger fraction lets the same pass through.
    let mut cfg = env.cfg.clone();
    cfg.consistency.max_reap_fraction = 1.0;
    drop(c);
    let c = cluster::boot(&cfg).await;
    let report = repair(&c).await;
    assert_eq!(report.refused, None, "{report:?}");
    assert!(container_id(&env.h, "default_x1_app").await.is_none());
    assert!(container_id(&env.h, "default_x2_app").await.is_none());
    assert!(running(&env.h, "default_a_app").await);
}

// The dry run decides and reports what it would reap, and changes nothing: no device write,
// no event; the report shows the orphan as such.
#[actix_rt::test]
async fn a_dry_run_reports_what_it_would_reap_and_reaps_nothing() {
    let mut env = env().await;
    env.cfg = checker(env.cfg.clone());
    env.cfg.consistency.dry_run = true;
    let c = cluster::boot(&env.cfg).await;
    declare_created(&c, pod("a", &[])).await;
    declare_created(&c, pod("b", &[])).await;
    plant_orphan(&env, "default", "gone", "127.77.0.30/24").await;
    repair(&c).await; // IPAM learns the orphan's address (the resync is no repair)
    env.h.clear_journal().await;
    let before = c.log.last_sequence().await.unwrap();
    let report = repair(&c).await;
    assert!(report.dry_run);
    assert_eq!(
        report.reaped,
        vec![
            pair("container", "default_gone_app"),
            pair("veth", "veth_default_gone_0")
        ]
    );
    assert!(writes(&env.h).await.is_empty());
    assert_eq!(c.log.last_sequence().await.unwrap(), before);
    assert!(running(&env.h, "default_gone_app").await);
    let got = c
        .consistency
        .send(mkube::actors::consistency::GetReport)
        .await
        .unwrap();
    let item = got
        .report
        .checks
        .containers
        .iter()
        .find(|i| i.name == "orphan/container/default_gone_app")
        .expect("orphan item");
    assert!(item.message.contains("dry run: not reaped"), "{item:?}");
}

/// CC-R4 end to end: three passes see `web`'s network broken; the first two count, the third
/// rebuilds it with a fresh veth and address as a queued job; once healthy the counter is
/// cleared. `breakage` breaks it on the device.
async fn three_strikes(
    annotations: &[(&str, &str)],
    breakage: impl AsyncFnOnce(&Env),
    healthy_address: impl Fn(&str) -> bool,
) {
    let mut env = env().await;
    env.cfg = checker(env.cfg.clone());
    let c = cluster::boot(&env.cfg).await;
    declare_created(&c, pod("web", annotations)).await;
    let first_id = container_id(&env.h, "default_web_app").await.unwrap();
    breakage(&env).await;
    for n in 1..=2 {
        let report = repair(&c).await;
        assert_eq!(
            report.counted,
            vec![("default/web".to_string(), n)],
            "{report:?}"
        );
        assert!(report.rebuilt.is_empty(), "pass {n}: {report:?}");
    }
    // The counters are facts: a restarted checker goes on counting where it stopped.
    drop(c);
    let metrics = Metrics::new();
    let c = cluster::boot_with_metrics(&env.cfg, metrics.clone()).await;
    let report = repair(&c).await;
    assert_eq!(report.counted, vec![("default/web".to_string(), 3)]);
    assert_eq!(
        report.rebuilt,
        vec![(
            "default/web".to_string(),
            Recreated::Queued("default/web".into())
        )]
    );
    let repairs = common::series(&metrics.render(), "mkube_consistency_network_repairs_total");
    assert_eq!(repairs, Some(1.0));
    settle(&c, "default/web").await.expect("rebuilt");
    let rebuilt_id = container_id(&env.h, "default_web_app").await.unwrap();
    assert_ne!(first_id, rebuilt_id, "a fresh container");
    let veth = ros(&env.h)
        .await
        .find_veth("veth_default_web_0")
        .await
        .unwrap()
        .expect("a fresh veth");
    assert!(healthy_address(&veth.address), "{veth:?}");
    let report = repair(&c).await;
    assert_eq!(report.recovered, vec!["default/web".to_string()]);
    let counted: Vec<u32> = facts(&c.log)
        .await
        .iter()
        .filter_map(|e| match e {
            ConsistencyEvent::NetworkFailureCounted { failures, .. } => Some(*failures),
            _ => None,
        })
        .collect();
    assert_eq!(counted, vec![1, 2, 3]);
    assert!(matches!(
        facts(&c.log).await.last(),
        Some(ConsistencyEvent::NetworkRecovered { .. })
    ));
    assert!(
        repair(&c).await.counted.is_empty(),
        "healthy: nothing counted"
    );
}

// CC-R4 / CC-5: a veth that lost its address counts as broken; three passes in a row rebuild
// the pod fresh. (The reconcile pass, which would restore the address in place, does not
// run here; see the next test.)
#[actix_rt::test]
async fn a_veth_without_address_is_rebuilt_after_three_passes() {
    three_strikes(
        &[],
        async |env: &Env| set_address(&env.h, "veth_default_web_0", "").await,
        |a| a.starts_with("127.77.0."),
    )
    .await;
}

// CC-R4 / CC-5: a veth whose address drifted from `vkube.io/static-ip` counts as broken;
// three passes in a row rebuild the pod on its static address.
#[actix_rt::test]
async fn a_static_ip_drift_is_rebuilt_after_three_passes() {
    three_strikes(
        &[("vkube.io/static-ip", "127.77.0.50")],
        async |env: &Env| set_address(&env.h, "veth_default_web_0", "127.77.0.60/24").await,
        |a| a == "127.77.0.50/24",
    )
    .await;
}

// CC-5: a veth that lost its address is detected by the reconcile pass too, whose worker sets
// the recorded address again in place (a veth that only lost its address keeps its container).
#[actix_rt::test]
async fn the_reconcile_pass_restores_a_lost_address_in_place() {
    let env = env().await;
    let c = cluster::boot(&env.cfg).await;
    declare_created(&c, pod("web", &[])).await;
    let id = container_id(&env.h, "default_web_app").await.unwrap();
    let ip = pods_state(&c).await.pods["default/web"].containers["app"]
        .ip
        .clone();
    set_address(&env.h, "veth_default_web_0", "").await;
    let report = pass(&c).await;
    assert_eq!(report.ran, vec![("default/web".to_string(), Ok(()))]);
    let veth = ros(&env.h)
        .await
        .find_veth("veth_default_web_0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(veth.ipv4().unwrap(), format!("{ip}/24"));
    assert_eq!(container_id(&env.h, "default_web_app").await.unwrap(), id);
    assert!(pass(&c).await.ran.is_empty(), "quiet again");
}

// CC-R4 skips pods with work pending (L-4): a pod whose create failed and is backing off is
// not counted, however broken.
#[actix_rt::test]
async fn pods_with_work_pending_are_not_counted() {
    let mut env = env().await;
    env.cfg = checker(env.cfg.clone());
    env.cfg.lifecycle.create_backoff_seconds = 60.0;
    env.h.knobs(json!({"extractFailRate": 1.0})).await;
    let c = cluster::boot(&env.cfg).await;
    declare(&c, pod("bad", &[])).await;
    assert!(settle(&c, "default/bad").await.is_err());
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let report = repair(&c).await;
        assert!(report.counted.is_empty(), "{report:?}");
        if report.skipped.is_none() {
            break;
        }
    }
}
