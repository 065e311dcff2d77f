//! Faults of the self-hosted chain (issue 15), with real processes in the simulated device: the
//! site is installed by `mkube-installer` and mkube-update, running inside the device, has
//! bootstrapped mkube (as in `selfhosted.rs`). Then:
//! - a new `mkube-registry:edge` pushed to the device's registry is swapped in from a tarball
//!   staged while the old registry still served (images.md §5.5); pulls fail for one contiguous
//!   window only, which ends once the new registry runs;
//! - mkube-update is killed (SIGKILL) after its swap of mkube removed the old container and
//!   before the new one is added; started again as the device would start it, it finishes the
//!   swap from its mark (§5.3) — never two containers of one name, never none;
//! - a broken `mkube:edge` (its process exits at once) is rolled back to the digest that ran
//!   before, the old mkube answers with its state, and after three failures that digest is left
//!   alone (§5.2 step 4, §5.3) while a good build pushed after it is deployed.
//!
//! mkube-update's health window and poll interval are shortened in the configuration the
//! installer wrote (`healthSeconds`, `pollSeconds`, §5.1) so the walk takes minutes, not tens.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::kubectl::Kubectl;
use crate::images_support::archives;
use crate::installer_support::{rebuilt_archive, rebuilt_archive_with};
use crate::selfhosted_support::{
    MKUBE, NATS, REGISTRY, SelfHosted, UPDATER, get_json, http, is_running,
};

/// A ConfigMap posted to mkube before the faults: the state a replacement or a rollback must
/// bring back (mkube replays it from its log in the NATS container).
async fn post_state(sh: &SelfHosted) -> String {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "faults", "namespace": "default"},
        "data": {"written": "before the fault"}});
    let resp = http()
        .post(format!("{}/api/v1/namespaces/default/configmaps", sh.api))
        .json(&cm)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    format!("{}/api/v1/namespaces/default/configmaps/faults", sh.api)
}

/// mkube (whichever build runs now) lists the ConfigMap through its API, and `kubectl` shows it.
async fn mkube_has_its_state(sh: &SelfHosted, cm_url: &str, what: &str) {
    sh.until(120, what, || async {
        let cm = get_json(cm_url).await?;
        (cm["data"]["written"] == "before the fault").then_some(())
    })
    .await;
    let k = Kubectl::new(&sh.api, &[]);
    let written = k.ok(&[
        "get",
        "configmap",
        "faults",
        "-n",
        "default",
        "-o",
        "jsonpath={.data.written}",
    ]);
    assert_eq!(written, "before the fault");
}

/// One look during the registry swap.
struct Sample {
    at: Duration,
    /// A pull's first request answered: the manifest HEAD of `nats:edge` (an image the swap
    /// does not touch) gave its digest.
    up: bool,
    /// A registry row other than the old one is running.
    new_running: bool,
    /// The new image's tarball is in the updater's data directory (§5.5 pre-staging).
    staged: bool,
}

/// Looks at the device's registry every ~75 ms until `done` is set.
async fn watch_pulls(
    sh: &SelfHosted,
    old_id: &Value,
    done: &std::sync::atomic::AtomicBool,
) -> Vec<Sample> {
    let nats = sh
        .registry_digest("nats")
        .await
        .expect("nats:edge in the registry");
    let tarball = sh.updater_data().join(format!("{REGISTRY}.tar"));
    let start = Instant::now();
    let mut out = Vec::new();
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        let tick = Instant::now();
        let up = sh.registry_digest("nats").await.as_ref() == Some(&nats);
        let row = sh.only(REGISTRY).await;
        out.push(Sample {
            at: tick - start,
            up,
            new_running: row.is_some_and(|r| r[".id"] != *old_id && is_running(&r)),
            staged: tarball.exists(),
        });
        tokio::time::sleep(Duration::from_millis(75).saturating_sub(tick.elapsed())).await;
    }
    out
}

/// The contiguous runs of failed looks: (index of the first, index of the last).
fn outages(samples: &[Sample]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        if s.up {
            continue;
        }
        match out.last_mut() {
            Some((_, last)) if *last + 1 == i => *last = i,
            _ => out.push((i, i)),
        }
    }
    out
}

/// Waits until the device journal shows `POST /container/remove` of the row `id`.
async fn until_removed(sh: &SelfHosted, id: &Value) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let j = sh.site.control("GET", "/journal", None).await;
        let seen = j.as_array().unwrap().iter().any(|e| {
            e["method"] == "POST"
                && e["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with("/container/remove"))
                && e["body"][".id"] == *id
        });
        if seen {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "mkube-update never removed {id}\n{}",
                sh.diagnostics().await
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether the device journal shows a `/container/add` of `name`.
async fn journal_has_add(sh: &SelfHosted, name: &str) -> bool {
    let journal = sh.site.control("GET", "/journal", None).await;
    journal.as_array().unwrap().iter().any(|e| {
        e["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("/container/add"))
            && e["body"]["name"] == name
    })
}

/// The registry swap (§5.5) with its pull outage measured, then kill -9 of mkube-update in the
/// middle of its swap of mkube (§5.3 swap mark).
#[actix_rt::test]
async fn the_registry_swaps_from_its_staged_tarball_and_a_killed_updater_finishes_its_swap() {
    let begun = Instant::now();
    let sh = SelfHosted::install().await;
    sh.retime_updater(3.0, 2).await;
    let cm_url = post_state(&sh).await;
    eprintln!("faults: installed and retimed after {:?}", begun.elapsed());

    // --- The registry: a new build is staged while the old one serves, then swapped in.
    sh.until_recorded(REGISTRY).await;
    let old = sh.only(REGISTRY).await.expect("registry row");
    let old_id = old[".id"].clone();
    let rebuilt = rebuilt_archive(&archives().join("mkube-registry.tar"), "faults-registry");
    let done = std::sync::atomic::AtomicBool::new(false);
    let (samples, registry_digest) = tokio::join!(watch_pulls(&sh, &old_id, &done), async {
        let digest = sh.push(&rebuilt, "mkube-registry").await;
        eprintln!("faults: a new mkube-registry:edge pushed ({digest})");
        sh.until(180, "registry.gt.lo was never replaced", || async {
            (sh.deployed(REGISTRY)? == digest).then_some(())
        })
        .await;
        // A second more of looks after the swap counted (health window included).
        tokio::time::sleep(Duration::from_secs(1)).await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        digest
    });
    let new = sh.only(REGISTRY).await.expect("registry row");
    assert_ne!(new[".id"], old_id, "{new}");
    assert!(is_running(&new), "{new}\n{}", sh.diagnostics().await);
    // §5.5: created from the tarball mkube-update staged (`file=`), not pulled from itself.
    assert_eq!(
        new["file"].as_str(),
        Some("raid1/volumes/mkube-update-updater/data/registry.gt.lo.tar"),
        "{new}"
    );
    assert_eq!(
        std::fs::read_to_string(
            sh.site
                .sim
                .disk()
                .join("raid1/images/registry.gt.lo/build-id")
        )
        .unwrap_or_default(),
        "faults-registry",
        "the new build runs"
    );
    // The new registry serves the same store: the pushed manifest is still there.
    assert_eq!(
        sh.registry_digest("mkube-registry").await.as_deref(),
        Some(registry_digest.as_str())
    );

    assert!(
        samples[0].up,
        "the registry was not answering before the swap"
    );
    let windows = outages(&samples);
    let (first, last) = match windows.as_slice() {
        [one] => *one,
        [] => panic!("no outage at all: was the registry really swapped?"),
        many => panic!(
            "pulls failed in {} separate windows: {:?}",
            many.len(),
            many.iter()
                .map(|(a, b)| (samples[*a].at, samples[*b].at))
                .collect::<Vec<_>>()
        ),
    };
    assert!(
        samples[first..=last].iter().all(|s| s.staged),
        "the registry went down before its replacement was staged (§5.5)"
    );
    // The outage is at most the time between the last good look before it and the first
    // good look after it; at least the span of the failed looks.
    let at_most = samples[(last + 1).min(samples.len() - 1)].at - samples[first - 1].at;
    let at_least = samples[last].at - samples[first].at;
    let new_runs = samples
        .iter()
        .find(|s| s.new_running)
        .map(|s| s.at)
        .expect("the new registry was never seen running");
    assert!(last + 1 < samples.len(), "pulls never came back");
    let back = samples[last + 1].at;
    assert!(
        back <= new_runs + Duration::from_secs(5),
        "pulls came back {:?} after the new registry ran",
        back.saturating_sub(new_runs)
    );
    eprintln!(
        "faults: registry swap pull outage: one window, {:.2}–{:.2} s ({} failed looks of {}); \
         new registry seen running at {:.2} s, pulls back at {:.2} s",
        at_least.as_secs_f64(),
        at_most.as_secs_f64(),
        last - first + 1,
        samples.len(),
        new_runs.as_secs_f64(),
        back.as_secs_f64(),
    );

    // --- kill -9 of mkube-update between the remove of the old mkube and the add of the new.
    let old_digest = sh.until_recorded(MKUBE).await;
    let mkube_id = sh.only(MKUBE).await.expect("mkube row")[".id"].clone();
    let knobs = sh.site.control("GET", "/knobs", None).await;
    // The old row takes 5 s (device time) to go, so the kill lands inside that window.
    sh.site
        .control(
            "PATCH",
            "/knobs",
            Some(json!({"removeMs": (5000.0 * knobs["clockFactor"].as_f64().unwrap()) as u64})),
        )
        .await;
    sh.site.clear_journal().await;
    let rebuilt = rebuilt_archive(&archives().join("mkube.tar"), "faults-kill");
    let digest = sh.push(&rebuilt, "mkube").await;
    assert_ne!(digest, old_digest);
    eprintln!("faults: a new mkube:edge pushed ({digest}); waiting for its swap");
    until_removed(&sh, &mkube_id).await;
    let pid = sh
        .updater_pid()
        .unwrap_or_else(|| panic!("no mkube-update process found"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    eprintln!("faults: mkube-update (pid {pid}) killed mid-swap");
    // The kill landed between the remove of the old row and the add of the new one.
    assert!(
        !journal_has_add(&sh, MKUBE).await,
        "the kill came after the add of the new kube.gt.lo"
    );
    assert!(
        sh.updater_data().join("swap-kube.gt.lo.json").exists(),
        "the swap mark outlives the process (§5.3)"
    );
    sh.site
        .control(
            "PATCH",
            "/knobs",
            Some(json!({"removeMs": knobs["removeMs"]})),
        )
        .await;
    // The device reaps the process: the updater's container stops; mkube is not brought up
    // by anyone meanwhile.
    sh.until(
        30,
        "the killed updater's container never stopped",
        || async {
            let r = sh.only(UPDATER).await?;
            (!is_running(&r)).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        sh.only(MKUBE).await.is_none_or(|r| r[".id"] == mkube_id),
        "something else added kube.gt.lo while mkube-update was dead"
    );

    // Started again (as the device does a container that stopped: `/container/start`), the
    // updater finishes the swap from its mark: one kube.gt.lo, the new build, running.
    sh.start_updater().await;
    sh.until(180, "the interrupted swap was never finished", || async {
        let r = sh.only(MKUBE).await?;
        let done = r[".id"] != mkube_id
            && is_running(&r)
            && !sh.updater_data().join("swap-kube.gt.lo.json").exists()
            && sh.deployed(MKUBE)? == digest;
        done.then_some(())
    })
    .await;
    assert_eq!(
        std::fs::read_to_string(sh.site.sim.disk().join("raid1/images/kube.gt.lo/build-id"))
            .unwrap_or_default(),
        "faults-kill",
        "the swap was finished with the new build"
    );
    let recovered = sh
        .log_lines(&["interrupted swap recovered", MKUBE, "Finished"])
        .await;
    assert_eq!(recovered.len(), 1, "{recovered:#?}");
    assert!(
        journal_has_add(&sh, MKUBE).await,
        "the restarted updater added it"
    );
    mkube_has_its_state(&sh, &cm_url, "the new mkube never listed its ConfigMap").await;
    // The registry swapped in at the start is still the one running, serving the pushed build:
    // restarted, its watcher did not put upstream's older mkube-registry:edge back (which
    // mkube-update would then have swapped in again).
    let registry = sh.only(REGISTRY).await.expect("registry row");
    assert_eq!(registry[".id"], new[".id"], "{registry}");
    assert_eq!(
        sh.registry_digest("mkube-registry").await.as_deref(),
        Some(registry_digest.as_str())
    );
    let rows = sh.containers().await;
    for name in [REGISTRY, NATS, UPDATER, MKUBE] {
        let n = rows.iter().filter(|r| r["name"] == name).count();
        assert_eq!(n, 1, "{name}: {rows:#?}");
    }
    eprintln!("faults: done after {:?}", begun.elapsed());
    sh.site.sim.stop().await;
}

/// A broken mkube (exits at once) is rolled back; after three failures its digest is left
/// alone (§5.2 step 4, §5.3: 3 starts, rollback to the previous image, maxFailures).
#[actix_rt::test]
async fn a_broken_mkube_is_rolled_back_and_left_alone_after_three_failures() {
    let begun = Instant::now();
    let sh = SelfHosted::install().await;
    sh.retime_updater(2.0, 2).await;
    let cm_url = post_state(&sh).await;
    let good = sh.until_recorded(MKUBE).await;
    eprintln!("faults: installed and retimed after {:?}", begun.elapsed());

    // The same mkube binary with an argument it refuses: the process exits at once (status 2).
    let broken = rebuilt_archive_with(&archives().join("mkube.tar"), "faults-broken", |c| {
        c["config"]["Cmd"] = json!(["--no-such-flag"]);
    });
    let bad = sh.push(&broken, "mkube").await;
    eprintln!("faults: a broken mkube:edge pushed ({bad})");
    let failures = || {
        let f = &sh.updater_record()?["failures"]["mkube"];
        (f["digest"] == bad.as_str()).then(|| f["count"].as_u64().unwrap_or(0))
    };
    // Every look: never two kube.gt.lo (`only` panics on two). The updater's reports of its
    // failed swaps are gathered as they come (the device log is a ring of 1000 lines).
    let failed = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let report = [
        "mkube-update-updater:",
        "update failed",
        &bad,
        "rolled back",
    ];
    sh.until(
        300,
        "three failures of the broken mkube were never counted",
        || async {
            sh.only(MKUBE).await;
            let lines = sh.log_lines(&report).await;
            failed.lock().unwrap().extend(lines);
            (failures()? >= 3).then_some(())
        },
    )
    .await;
    eprintln!("faults: three failures counted after {:?}", begun.elapsed());
    // Rolled back: the digest that ran before, pinned, runs again and has its state.
    sh.until(120, "the old mkube never ran again", || async {
        let r = sh.only(MKUBE).await?;
        (is_running(&r) && r["repo"].as_str()?.ends_with(&format!("/mkube@{good}"))).then_some(())
    })
    .await;
    mkube_has_its_state(
        &sh,
        &cm_url,
        "the rolled-back mkube never listed its ConfigMap",
    )
    .await;
    assert_eq!(sh.deployed(MKUBE).as_deref(), Some(good.as_str()));

    // Left alone: the updater says so, and through several more cycles nothing touches mkube.
    sh.until(60, "mkube-update never left the digest alone", || async {
        let left = sh
            .log_lines(&["mkube-update-updater:", "LeftAlone", &bad])
            .await;
        (!left.is_empty()).then_some(())
    })
    .await;
    // Each of the three failures was a rollback (three starts, then the previous image).
    let mut failed = failed.into_inner().unwrap();
    failed.extend(sh.log_lines(&report).await);
    assert_eq!(failed.len(), 3, "{failed:#?}");
    let id = sh.only(MKUBE).await.expect("mkube row")[".id"].clone();
    sh.site.clear_journal().await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let writes: Vec<String> = sh
        .site
        .journal_writes()
        .await
        .into_iter()
        .filter(|w| w.contains("/container/"))
        .collect();
    let r = sh.only(MKUBE).await.expect("mkube row");
    assert_eq!(r[".id"], id, "kube.gt.lo was touched again: {writes:?}");
    assert!(is_running(&r), "{r}");
    assert_eq!(failures(), Some(3), "{:?}", sh.updater_record());
    assert!(
        !writes
            .iter()
            .any(|w| w.contains("add") || w.contains("remove")),
        "container writes after the digest was left alone: {writes:?}"
    );

    // Only that digest: a good new build pushed after it is deployed as usual.
    let fixed = rebuilt_archive(&archives().join("mkube.tar"), "faults-fixed");
    let fixed = sh.push(&fixed, "mkube").await;
    sh.until(120, "the fixed mkube was never deployed", || async {
        let r = sh.only(MKUBE).await?;
        (r[".id"] != id && is_running(&r) && sh.deployed(MKUBE)? == fixed).then_some(())
    })
    .await;
    assert_eq!(
        std::fs::read_to_string(sh.site.sim.disk().join("raid1/images/kube.gt.lo/build-id"))
            .unwrap_or_default(),
        "faults-fixed"
    );
    mkube_has_its_state(&sh, &cm_url, "the fixed mkube never listed its ConfigMap").await;
    eprintln!("faults: done after {:?}", begun.elapsed());
    sh.site.sim.stop().await;
}
