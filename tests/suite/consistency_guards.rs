//! The repair pass's guards with the real `mkube` binary (controller.md §6.3 [F], §11 L-1):
//! restarted against a populated device with an unreachable NATS, then an empty one, it
//! reaps nothing (the desired set is not known complete, then it is empty while managed
//! objects exist: safeToReap); killed in the middle of a sweep (`MKUBE_CRASH_AT`), nothing
//! running that a pod claims is reaped, and the next pass finishes the work with one fact per
//! reap.

use crate::common::mkube::MkubeProcess;
use crate::common::{self, NatsServer, cluster};
use crate::consistency_support::*;
use crate::engine_support::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// `process_config` for node `cluster::NODE` (so `env.cfg` reads its log) with the repair
/// pass on: a pass 0.1 s after every trigger, reconcile every 0.5 s.
fn config(nats: &str, rest: &str, listen: &str) -> String {
    process_config(cluster::NODE, nats, rest, listen, 0.5).replace(
        "consistency: {repair: false}",
        "consistency: {repair: true, delaySeconds: 0.1}",
    )
}

fn start(env: &Env, dir: &std::path::Path, nats: &str, crash_at: Option<&str>) -> MkubeProcess {
    let rest = env.h.sim.rest_url();
    let vars: Vec<(&str, &str)> = crash_at
        .map(|p| ("MKUBE_CRASH_AT", p))
        .into_iter()
        .collect();
    MkubeProcess::start_env(dir, |l| config(nats, &rest, l), &vars)
}

/// Creates `names` through the binary's API and waits until their containers run.
async fn create(env: &Env, mk: &MkubeProcess, names: &[&str]) {
    let http = common::http();
    for name in names {
        let body = json!({
            "metadata": {"name": name, "annotations": {"vkube.io/file": TARBALL}},
            "spec": {"restartPolicy": "Always", "containers": [{"name": "app", "command": ["/bin/app"]}]}
        });
        let r = http
            .post(mk.url("/api/v1/namespaces/default/pods"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    for name in names {
        let container = format!("default_{name}_app");
        wait_until(&format!("{container} running"), 30, || {
            running(&env.h, &container)
        })
        .await;
    }
}

/// A populated device: pods `p0`…`p2` created through the binary (then killed), running.
async fn fleet() -> (Env, tempfile::TempDir) {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let mut first = start(&env, dir.path(), &env.nats.url(), None);
    first.wait_ready(&common::http()).await;
    create(&env, &first, &["p0", "p1", "p2"]).await;
    first.kill();
    (env, dir)
}

/// Waits until the binary logged `n` more completed repair passes than `since`.
async fn passes(mk: &MkubeProcess, n: usize) {
    let count = || mk.log_text().matches("CONSISTENCY: pass complete").count();
    let target = count() + n;
    let deadline = Instant::now() + Duration::from_secs(30);
    while count() < target {
        assert!(
            Instant::now() < deadline,
            "no repair pass: {}",
            mk.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Device calls that change something (`remove`s above all).
async fn removes(env: &Env) -> Vec<String> {
    writes(&env.h)
        .await
        .into_iter()
        .filter(|l| l.ends_with("/remove") || l.ends_with("/stop"))
        .collect()
}

// L-1 (a), (b), (c): mkube restarted against a populated device. While NATS is unreachable
// nothing starts — no pass, no device write. When NATS is back with its log, every object is
// claimed and nothing is reaped. Restarted again on an empty NATS (a lost log), nothing is
// desired while managed objects exist: the pass refuses (safeToReap), says so in the report,
// and the fleet keeps running.
#[actix_rt::test]
async fn a_restart_on_an_unreachable_or_empty_nats_reaps_nothing() {
    let (mut env, dir) = fleet().await;
    let url = env.nats.url();
    let running_fleet = async |env: &Env| {
        for name in ["default_p0_app", "default_p1_app", "default_p2_app"] {
            assert!(running(&env.h, name).await, "{name} still running");
        }
    };

    // NATS unreachable: mkube serves health, is not ready, touches nothing.
    env.nats.kill();
    env.h.clear_journal().await;
    let second = start(&env, dir.path(), &url, None);
    let http = common::http();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ready = http
        .get(second.url("/readyz"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(ready.as_u16(), 503);
    assert!(
        writes(&env.h).await.is_empty(),
        "{:?}",
        writes(&env.h).await
    );
    // NATS back with its log: replay, passes, nothing reaped.
    env.nats.restart();
    second.wait_ready(&http).await;
    passes(&second, 2).await;
    assert!(removes(&env).await.is_empty(), "{:?}", removes(&env).await);
    running_fleet(&env).await;
    drop(second);

    // An empty NATS: nothing desired, managed objects present: refused.
    let empty = NatsServer::start();
    env.h.clear_journal().await;
    let third = start(&env, dir.path(), &empty.url(), None);
    third.wait_ready(&http).await;
    passes(&third, 2).await;
    assert!(
        third.log_text().contains("safeToReap"),
        "{}",
        third.log_text()
    );
    assert!(removes(&env).await.is_empty(), "{:?}", removes(&env).await);
    running_fleet(&env).await;
    let report = third.get_json(&http, "/api/v1/consistency").await;
    let guard = report["checks"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "repair/guard")
        .cloned()
        .unwrap_or_default();
    assert_eq!(guard["status"], "fail", "{report:#}");
    assert!(
        guard["details"].as_str().unwrap().contains("safeToReap"),
        "{guard}"
    );
    env.cfg.nats.url = empty.url();
    assert!(reaped(&facts(&cluster::log(&env.cfg).await).await).is_empty());
}

// Crash safety of a sweep (DESIGN rule 6): the binary is killed right after recording the
// first `OrphanReaped` (`sweep.recorded`, nothing removed yet) and right after the first
// removal (`sweep.reaped`). Nothing a pod claims is touched; the restarted binary's next pass
// reaps the rest — and the one whose fact was recorded without a second fact: every orphan
// object has exactly one `OrphanReaped`.
#[actix_rt::test]
async fn a_kill_mid_sweep_reaps_nothing_running_and_the_next_pass_finishes() {
    let (env, dir) = fleet().await;
    let url = env.nats.url();
    let mut ids = Vec::new();
    for name in ["default_p0_app", "default_p1_app", "default_p2_app"] {
        ids.push(container_id(&env.h, name).await.unwrap());
    }
    for (round, point) in mkube::actors::consistency::CRASH_POINTS.iter().enumerate() {
        let orphans: Vec<String> = (0..3).map(|i| format!("o{round}{i}")).collect();
        for (i, o) in orphans.iter().enumerate() {
            plant_orphan(
                &env,
                "default",
                o,
                &format!("127.77.0.{}/24", 30 + 10 * round + i),
            )
            .await;
        }
        let mut crashing = start(&env, dir.path(), &url, Some(point));
        let deadline = Instant::now() + Duration::from_secs(30);
        while crashing.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "{point} never reached: {}",
                crashing.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            crashing
                .log_text()
                .contains(&format!("MKUBE_CRASH_AT={point}")),
            "{}",
            crashing.log_text()
        );
        // `sweep.recorded`: nothing removed yet; `sweep.reaped`: the first one (its removal
        // may still be finishing on the device, RouterOS's `deleting`).
        let want = if *point == "sweep.recorded" { 3 } else { 2 };
        wait_until(&format!("{point}: {want} orphans left"), 10, || async {
            let mut left = 0;
            for o in &orphans {
                left += usize::from(
                    container_id(&env.h, &format!("default_{o}_app"))
                        .await
                        .is_some(),
                );
            }
            left == want
        })
        .await;

        let normal = start(&env, dir.path(), &url, None);
        normal.wait_ready(&common::http()).await;
        for o in &orphans {
            let (c, v) = (format!("default_{o}_app"), format!("veth_default_{o}_0"));
            wait_until(&format!("{c} reaped"), 30, || async {
                let ros = ros(&env.h).await;
                ros.find_container(&c).await.unwrap().is_none()
                    && ros.find_veth(&v).await.unwrap().is_none()
            })
            .await;
        }
        drop(normal);
        for (name, id) in ["default_p0_app", "default_p1_app", "default_p2_app"]
            .iter()
            .zip(&ids)
        {
            assert_eq!(
                container_id(&env.h, name).await.as_ref(),
                Some(id),
                "{point}: {name} untouched"
            );
            assert!(running(&env.h, name).await, "{point}: {name} running");
        }
        let recorded = reaped(&facts(&cluster::log(&env.cfg).await).await);
        for o in &orphans {
            for want in [
                pair("container", &format!("default_{o}_app")),
                pair("veth", &format!("veth_default_{o}_0")),
            ] {
                let n = recorded.iter().filter(|r| **r == want).count();
                assert_eq!(n, 1, "{point}: one fact for {want:?} in {recorded:?}");
            }
        }
    }
}
