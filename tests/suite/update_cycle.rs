//! mkube-update's poll cycle against a real routeros-sim and a real mkube-registry (images.md
//! §5.2, §5.3, §7.7): tag preference, the exact device calls of a replacement, rolling,
//! rollback of a broken image, the failure limit, a digest that changed while the updater was
//! down, and the registry's swap from a pre-staged tarball (§5.5).

use crate::update_support::{DATA_DEVICE, Site, s};
use mkube::update::poll::WatchOutcome;
use serde_json::json;

fn outcome(v: &[(String, WatchOutcome)]) -> &WatchOutcome {
    &v[0].1
}

/// §7.7-1: only `latest` exists → the container's digest is adopted; `edge` appears → digests
/// are compared per repository and the replacement uses `edge`.
#[actix_web::test]
async fn tag_preference_latest_then_edge_7_7_1() {
    let site = Site::start().await;
    let d1 = site.push("app", "latest", "latest-1").await;
    site.container("app1", &site.image("app", "latest"), json!({}))
        .await;
    let u = site
        .updater("watches:\n  - repo: app\n    tags: [edge, latest]\n    container: app1\n")
        .await;
    assert_eq!(outcome(&u.cycle().await), &WatchOutcome::UpToDate);
    assert_eq!(site.record().deployed["app1"], d1);

    let d2 = site.push("app", "edge", "edge-1").await;
    let out = u.cycle().await;
    assert_eq!(
        outcome(&out),
        &WatchOutcome::Replaced {
            digest: d2.clone(),
            targets: vec!["app1".into()]
        }
    );
    let row = site.row("app1").await.unwrap();
    assert_eq!(s(&row, "repo"), site.image("app", "edge"));
    assert_eq!(s(&row, "running"), "true");
    assert_eq!(
        site.marker(&row),
        "edge-1",
        "the new image runs in a fresh root-dir"
    );
    assert_eq!(site.record().deployed["app1"], d2);
    // Nothing more to do: the next cycle writes nothing to the device.
    site.clear_journal().await;
    assert_eq!(outcome(&u.cycle().await), &WatchOutcome::UpToDate);
    assert!(site.writes().await.is_empty());
}

/// §7.7-2, §5.3, §4.6: a replacement is stop → remove → root-dir moved aside → add with
/// `remote-image` (never `tag`) and `check-certificate=no` keeping every setting (user and
/// env lists included) → start; the new row carries every field of the old one.
#[actix_web::test]
async fn replacement_calls_keep_every_field_7_7_2() {
    let site = Site::start().await;
    site.push("svc", "edge", "one").await;
    let kept = json!({
        "mountlists": "svc.config,svc.data", "envlists": "svc", "cmd": "--listen 127.42.0.10:80",
        "entrypoint": "/bin/app", "workdir": "/srv", "user": "1000:1000", "hostname": "svc.gt.lo",
        "dns": "127.42.0.199", "logging": "yes", "start-on-boot": "yes",
    });
    let old = site
        .container("svc", &site.image("svc", "edge"), kept.clone())
        .await;
    let u = site
        .updater("watches:\n  - repo: svc\n    tags: [edge]\n    container: svc\n")
        .await;
    u.cycle().await;
    site.push("svc", "edge", "two").await;
    site.clear_journal().await;
    assert!(matches!(
        outcome(&u.cycle().await),
        WatchOutcome::Replaced { .. }
    ));
    let writes = site.writes().await;
    let paths: Vec<&str> = writes.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/container/stop",
            "/container/remove",
            "/file/set",
            "/container/add",
            "/container/start"
        ],
        "{writes:?}"
    );
    assert_eq!(writes[0].1, json!({".id": old[".id"]}));
    assert_eq!(writes[2].1["numbers"], "raid1/images/svc");
    assert!(
        writes[2].1["name"]
            .as_str()
            .unwrap()
            .starts_with("raid1/images/svc.trash-")
    );
    let add = &writes[3].1;
    assert_eq!(add["remote-image"], site.image("svc", "edge"));
    assert_eq!(add["check-certificate"], "no");
    assert!(
        add.get("tag").is_none() && add.get("file").is_none(),
        "{add}"
    );
    let new = site.row("svc").await.unwrap();
    for (k, v) in kept.as_object().unwrap() {
        let want = if v == "yes" { json!("true") } else { v.clone() };
        assert_eq!(add[k], *v, "add body keeps {k}");
        assert_eq!(new[k], want, "the new row keeps {k}");
    }
    assert_eq!(new["interface"], old["interface"]);
    assert_eq!(new["root-dir"], old["root-dir"]);
    assert_eq!(site.marker(&new), "two");
}

/// §5.2 step 3: rolling replacement goes one target at a time and stops at the first
/// failure; the targets after it keep the old image.
#[actix_web::test]
async fn rolling_stops_at_the_first_failure() {
    let site = Site::start().await;
    site.push("dns", "edge", "v1").await;
    for n in ["dns-a", "dns-b", "dns-c"] {
        site.container(n, &site.image("dns", "edge"), json!({}))
            .await;
    }
    let u = site
        .updater("watches:\n  - repo: dns\n    tags: [edge]\n    containers: [dns-a, dns-b, dns-c]\n    rolling: true\n    rollingDelay: 10ms\n")
        .await;
    u.cycle().await;
    let c_before = site.row("dns-c").await.unwrap();
    let d2 = site.push("dns", "edge", "v2").await;
    // dns-b cannot start any more (neither the new image nor the old).
    site.knobs(json!({"startFailImages": ["dns-b"]})).await;
    let out = u.cycle().await;
    assert!(
        matches!(outcome(&out), WatchOutcome::Failed { reason, .. } if reason.contains("dns-b")),
        "{out:?}"
    );
    assert_eq!(site.marker(&site.row("dns-a").await.unwrap()), "v2");
    let c_after = site.row("dns-c").await.unwrap();
    assert_eq!(c_after[".id"], c_before[".id"], "dns-c untouched");
    assert_eq!(site.marker(&c_after), "v1");
    let rec = site.record();
    assert_eq!(rec.deployed["dns-a"], d2);
    assert_ne!(rec.deployed["dns-c"], d2);
    assert_eq!(rec.failures_of("dns", &d2), 1);
}

/// §5.3: a broken image (exits at once) is started three times, then the previous image (by
/// digest) runs again; §5.2: after three failed swaps that digest is left alone — the next
/// cycle writes nothing — until a new digest appears.
#[actix_web::test]
async fn broken_image_rolls_back_and_three_failures_leave_the_digest_alone() {
    let site = Site::start().await;
    let d1 = site.push("app", "edge", "good").await;
    site.container("app1", &site.image("app", "edge"), json!({}))
        .await;
    let u = site
        .updater("watches:\n  - repo: app\n    tags: [rc, edge]\n    container: app1\n")
        .await;
    u.cycle().await;
    site.knobs(json!({"startFailImages": ["/app:rc"]})).await;
    let bad = site.push("app", "rc", "broken").await;
    for round in 1..=3 {
        site.clear_journal().await;
        let out = u.cycle().await;
        assert!(
            matches!(outcome(&out), WatchOutcome::Failed { reason, .. } if reason.contains("rolled back")),
            "round {round}: {out:?}"
        );
        let row = site.row("app1").await.unwrap();
        assert_eq!(s(&row, "running"), "true", "round {round}");
        assert_eq!(
            s(&row, "repo"),
            format!("{}/app@{d1}", site.host()),
            "rolled back to the exact previous image"
        );
        assert_eq!(site.marker(&row), "good");
        let starts = site
            .writes()
            .await
            .iter()
            .filter(|(p, _)| p == "/container/start")
            .count();
        assert_eq!(starts, 4, "three starts of the new image, one of the old");
        assert_eq!(site.record().failures_of("app", &bad), round);
    }
    site.clear_journal().await;
    assert_eq!(
        outcome(&u.cycle().await),
        &WatchOutcome::LeftAlone {
            digest: bad.clone()
        }
    );
    assert!(
        site.writes().await.is_empty(),
        "a left-alone digest is not touched"
    );
    // A new digest is tried again.
    site.knobs(json!({"startFailImages": []})).await;
    let fixed = site.push("app", "rc", "fixed").await;
    assert!(matches!(
        outcome(&u.cycle().await),
        WatchOutcome::Replaced { .. }
    ));
    assert_eq!(site.record().deployed["app1"], fixed);
    assert_eq!(site.marker(&site.row("app1").await.unwrap()), "fixed");
}

/// §5.2 [lesson]: the comparison is with what is deployed (the persisted record), not with
/// the first sighting of this process: a push made while the updater was down is acted on.
#[actix_web::test]
async fn a_digest_changed_while_the_updater_was_down_is_acted_on() {
    let site = Site::start().await;
    site.push("app", "edge", "before").await;
    site.container("app1", &site.image("app", "edge"), json!({}))
        .await;
    let watches = "watches:\n  - repo: app\n    tags: [edge]\n    container: app1\n";
    let first = site.updater(watches).await;
    first.cycle().await;
    drop(first);
    let d2 = site.push("app", "edge", "while-down").await;
    let second = site.updater(watches).await;
    second.recover().await;
    assert!(matches!(
        outcome(&second.cycle().await),
        WatchOutcome::Replaced { digest, .. } if *digest == d2
    ));
    assert_eq!(site.marker(&site.row("app1").await.unwrap()), "while-down");
}

/// §5.2 [lesson], the installer's half: mkube-update's first poll compares with the record
/// the installer wrote (its seeded digests, `installer::updater::baseline`), so an image pushed
/// between the install and that poll is rolled out instead of being adopted as the baseline.
#[actix_web::test]
async fn a_push_before_the_first_poll_is_rolled_out_from_the_installers_record() {
    let site = Site::start().await;
    let seeded = site.push("nats", "edge", "installed").await;
    site.container("nats.gt.lo", &site.image("nats", "edge"), json!({}))
        .await;
    let baseline = mkube::installer::updater::baseline(
        &[("nats".to_string(), seeded.clone())].into_iter().collect(),
    );
    assert_eq!(baseline.deployed["nats.gt.lo"], seeded);
    mkube::update::record::RecordFile::new(&site.data_dir())
        .save(&baseline)
        .unwrap();
    let pushed = site
        .push("nats", "edge", "pushed-before-the-first-poll")
        .await;
    let updater = site
        .updater("watches:\n  - repo: nats\n    tags: [edge]\n    container: nats.gt.lo\n")
        .await;
    assert!(matches!(
        outcome(&updater.cycle().await),
        WatchOutcome::Replaced { digest, .. } if *digest == pushed
    ));
    assert_eq!(
        site.marker(&site.row("nats.gt.lo").await.unwrap()),
        "pushed-before-the-first-poll"
    );
}

/// §5.5, §7.7-2: the registry's watch pulls the new image while the old registry runs,
/// writes a docker-save tarball into the updater's data directory and swaps with `file=`;
/// the tarball of the image deployed before is kept as `-prev.tar` and is the rollback.
#[actix_web::test]
async fn registry_swap_from_a_prestaged_tarball_5_5() {
    let site = Site::start().await;
    site.push("mkube-registry", "edge", "reg-1").await;
    site.container(
        "registry.gt.lo",
        &site.image("mkube-registry", "edge"),
        json!({"mountlists": "registry.gt.lo.config,registry.gt.lo.data"}),
    )
    .await;
    let u = site
        .updater("watches:\n  - repo: mkube-registry\n    tags: [edge, latest]\n    container: registry.gt.lo\n")
        .await;
    u.cycle().await;
    let d2 = site.push("mkube-registry", "edge", "reg-2").await;
    site.clear_journal().await;
    assert!(matches!(
        outcome(&u.cycle().await),
        WatchOutcome::Replaced { .. }
    ));
    let tarball = format!("{DATA_DEVICE}/registry.gt.lo.tar");
    let add = site
        .writes()
        .await
        .into_iter()
        .find(|(p, _)| p == "/container/add")
        .unwrap()
        .1;
    assert_eq!(add["file"], tarball.as_str());
    assert!(add.get("remote-image").is_none());
    assert_eq!(
        add["mountlists"],
        "registry.gt.lo.config,registry.gt.lo.data"
    );
    let row = site.row("registry.gt.lo").await.unwrap();
    assert_eq!(site.marker(&row), "reg-2");
    let sidecar =
        std::fs::read_to_string(site.data_dir().join("registry.gt.lo.tar.digest")).unwrap();
    assert!(sidecar.starts_with(&d2));
    assert!(!site.data_dir().join("registry.gt.lo-prev.tar").exists());

    // The next swap keeps the deployed tarball as -prev; a broken image rolls back to it.
    site.knobs(json!({"startFailImages": ["registry.gt.lo.tar"]}))
        .await;
    site.push("mkube-registry", "edge", "reg-3").await;
    let out = u.cycle().await;
    assert!(
        matches!(outcome(&out), WatchOutcome::Failed { reason, .. } if reason.contains("rolled back")),
        "{out:?}"
    );
    let prev = site.data_dir().join("registry.gt.lo-prev.tar.digest");
    assert!(std::fs::read_to_string(prev).unwrap().starts_with(&d2));
    let row = site.row("registry.gt.lo").await.unwrap();
    assert_eq!(
        s(&row, "file"),
        format!("{DATA_DEVICE}/registry.gt.lo-prev.tar")
    );
    assert_eq!(site.marker(&row), "reg-2");
    assert_eq!(s(&row, "running"), "true");
}
