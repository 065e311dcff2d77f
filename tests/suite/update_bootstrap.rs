//! mkube-update's bootstrap of mkube (images.md §5.4, §7.7-3) on a real routeros-sim: each
//! state of the container (missing, running, stopped, the device briefly unreachable), the
//! local-registry rewrite, re-bootstrap when the container disappears later, and hands off
//! while a swap mark says a swap is under way.

use crate::update_support::{Site, s};
use mkube::update::mark::{Marks, Settings, Source, SwapMark};
use serde_json::json;

const BOOTSTRAP: &str = "bootstrap:\n  enabled: true\n  image: upstream.example/glennswest/mkube:edge\n  tarballDeviceDir: raid1/volumes/mkube-update-updater/data\n  container:\n    name: kube.gt.lo\n    interface: veth-mkube\n    rootDir: /raid1/images/kube.gt.lo\n    hostname: kube.gt.lo\n    dns: 127.42.0.199\n    logging: yes\n    startOnBoot: yes\n    mountLists: kube.gt.lo.config,kube.gt.lo.data\n";

async fn site() -> Site {
    let site = Site::start().await;
    site.veth("veth-mkube", "127.42.0.2").await;
    site
}

/// Missing → created from the local registry (upstream path rewritten to
/// `<registry>/mkube:edge`, `check-certificate=no`, the bootstrap fields), extracted, started
/// and recorded; running → no write; removed later → created again.
#[actix_web::test]
async fn missing_is_created_from_the_local_registry_and_recreated_when_gone_7_7_3() {
    let site = site().await;
    let digest = site.push("mkube", "edge", "mkube-1").await;
    let u = site.updater_with_bootstrap(BOOTSTRAP).await;
    u.cycle().await;
    let row = site.row("kube.gt.lo").await.expect("bootstrapped");
    assert_eq!(s(&row, "running"), "true");
    assert_eq!(s(&row, "repo"), site.image("mkube", "edge"));
    assert_eq!(s(&row, "mountlists"), "kube.gt.lo.config,kube.gt.lo.data");
    assert_eq!(s(&row, "hostname"), "kube.gt.lo");
    assert_eq!(s(&row, "dns"), "127.42.0.199");
    assert_eq!(s(&row, "start-on-boot"), "true");
    assert_eq!(site.marker(&row), "mkube-1");
    let add = site
        .writes()
        .await
        .into_iter()
        .find(|(p, _)| p == "/container/add")
        .unwrap()
        .1;
    assert_eq!(add["check-certificate"], "no");
    assert_eq!(site.record().deployed["kube.gt.lo"], digest);

    site.clear_journal().await;
    u.cycle().await;
    assert!(site.writes().await.is_empty(), "running: nothing to do");

    // Gone later (removed by hand): the next cycle creates it again.
    site.sim
        .ok("/container/stop", json!({".id": row[".id"]}))
        .await;
    site.sim.wait_flag("kube.gt.lo", "stopped").await;
    site.sim
        .ok("/container/remove", json!({".id": row[".id"]}))
        .await;
    site.sim.wait_gone("kube.gt.lo").await;
    u.cycle().await;
    let again = site.row("kube.gt.lo").await.expect("re-bootstrapped");
    assert_ne!(again[".id"], row[".id"]);
    assert_eq!(s(&again, "running"), "true");
}

/// A push of mkube's image replaces the bootstrapped container starting from the row the
/// cycle's bootstrap check just read: the container is read once before the stop, not twice.
#[actix_web::test]
async fn replace_after_the_bootstrap_check_reads_the_row_once() {
    let site = site().await;
    site.push("mkube", "edge", "mkube-1").await;
    let u = site
        .updater_with_bootstrap_and(
            BOOTSTRAP,
            "watches:\n  - repo: mkube\n    tags: [edge]\n    container: kube.gt.lo\n",
        )
        .await;
    u.cycle().await;
    let old = site.row("kube.gt.lo").await.expect("bootstrapped");
    site.push("mkube", "edge", "mkube-2").await;
    site.clear_journal().await;
    let out = u.cycle().await;
    assert!(
        matches!(out[0].1, mkube::update::poll::WatchOutcome::Replaced { .. }),
        "{out:?}"
    );
    let calls = site.journal().await;
    let stop = calls
        .iter()
        .position(|(m, p, _)| m == "POST" && p == "/container/stop")
        .expect("a stop");
    assert_eq!(calls[stop].2, json!({".id": old[".id"]}));
    let reads = calls[..stop]
        .iter()
        .filter(|(m, p, _)| m == "GET" && p == "/container")
        .count();
    assert_eq!(reads, 1, "{calls:?}");
    let new = site.row("kube.gt.lo").await.expect("replaced");
    assert_eq!(site.marker(&new), "mkube-2");
    assert_eq!(s(&new, "running"), "true");
}

/// Stopped → started (one start, no add); the device failing the first lookups → retried,
/// never mistaken for a missing container.
#[actix_web::test]
async fn stopped_is_started_and_a_briefly_unreachable_device_is_retried_7_7_3() {
    let site = site().await;
    site.push("mkube", "edge", "m").await;
    let u = site.updater_with_bootstrap(BOOTSTRAP).await;
    u.cycle().await;
    let row = site.row("kube.gt.lo").await.unwrap();
    site.sim
        .ok("/container/stop", json!({".id": row[".id"]}))
        .await;
    site.sim.wait_flag("kube.gt.lo", "stopped").await;
    site.clear_journal().await;
    u.cycle().await;
    let writes = site.writes().await;
    let paths: Vec<&str> = writes.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["/container/start"]);
    assert_eq!(s(&site.row("kube.gt.lo").await.unwrap(), "running"), "true");

    // Three failed reads of /container, then the device answers again.
    site.sim
        .control(
            "POST",
            "/faults",
            Some(
                json!({"method": "GET", "path": "/rest/container", "kind": "error",
                "status": 500, "detail": "simulated outage", "count": 3}),
            ),
        )
        .await;
    site.clear_journal().await;
    u.cycle().await;
    assert!(
        site.writes().await.is_empty(),
        "no add after failed lookups"
    );
    let failed_reads = site
        .journal()
        .await
        .iter()
        .filter(|(m, p, _)| m == "GET" && p == "/container")
        .count();
    assert!(failed_reads >= 4, "retried: {failed_reads}");
    assert_eq!(site.rows_named("kube.gt.lo").await, 1);
}

/// A swap mark on mkube's container means a swap is under way: the bootstrap does not create a
/// second one (the five-minute outage of §5.3's lesson).
#[actix_web::test]
async fn no_bootstrap_while_a_swap_is_in_progress() {
    let site = site().await;
    site.push("mkube", "edge", "m").await;
    let u = site.updater_with_bootstrap(BOOTSTRAP).await;
    let settings = Settings {
        name: "kube.gt.lo".into(),
        interface: "veth-mkube".into(),
        root_dir: "/raid1/images/kube.gt.lo".into(),
        mountlists: vec![],
        envlists: vec![],
        cmd: String::new(),
        entrypoint: String::new(),
        workdir: String::new(),
        user: String::new(),
        hostname: String::new(),
        dns: String::new(),
        logging: true,
        start_on_boot: true,
    };
    Marks::new(&site.data_dir())
        .write(&SwapMark {
            container: "kube.gt.lo".into(),
            old_id: Some("*FFFF".into()),
            settings,
            new_image: Source::Remote(site.image("mkube", "edge")),
            rollback: None,
            repo: "mkube".into(),
            digest: String::new(),
        })
        .unwrap();
    site.clear_journal().await;
    u.cycle().await;
    assert!(site.row("kube.gt.lo").await.is_none());
    assert!(site.writes().await.is_empty());
}
