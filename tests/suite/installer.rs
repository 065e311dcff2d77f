//! `mkube-installer` (issue 15, images.md §6, §7.7-4) against a bare `routeros-sim
//! --run-containers`: the registry container really runs (pulled from an upstream
//! mkube-registry), seeds land in it, NATS and mkube-update run; a second run writes nothing;
//! certificates are reused, and replaced with --rotate-certs; a failed step is named and a
//! later run completes; bad flags get a clear error.

use std::time::Duration;

use serde_json::json;

use crate::installer_support::{BRIDGE, Site};

const STEPS: [&str; 9] = [
    "verify",
    "certificates",
    "infra",
    "configs",
    "registry",
    "seed",
    "nats",
    "cleanup",
    "mkube-update",
];

fn site_http(ca_pem: &[u8]) -> reqwest::Client {
    let tls = mkube::tls::client_config(false, &[ca_pem]).unwrap();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn head_manifest(http: &reqwest::Client, registry: &str, repo: &str) -> u16 {
    head(http, registry, repo).await.status().as_u16()
}

async fn head(http: &reqwest::Client, registry: &str, repo: &str) -> reqwest::Response {
    http.head(format!("https://{registry}/v2/{repo}/manifests/edge"))
        .header(
            "accept",
            "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .await
        .unwrap()
}

async fn digest_of(http: &reqwest::Client, registry: &str, repo: &str) -> String {
    let r = head(http, registry, repo).await;
    r.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_string()
}

fn running(rows: &[serde_json::Value], name: &str) -> bool {
    rows.iter()
        .any(|r| r["name"] == name && r["running"].as_str() == Some("true"))
}

#[actix_rt::test]
async fn installer_takes_a_bare_device_to_a_site_and_a_rerun_writes_nothing() {
    let site = Site::start().await;
    let repo = env!("CARGO_MANIFEST_DIR");
    let mkube_config = format!("{repo}/deploy/rose1/config.yaml");
    let boot_order = format!("{repo}/deploy/rose1/boot-order.yaml");
    let extra = ["--mkube-config", &mkube_config, "--boot-order", &boot_order];

    // First run: every step reports, in order, and the run ends well.
    let first = site.install(&extra).ok();
    let out = first.stdout();
    let mut at = 0;
    for (i, step) in STEPS.iter().enumerate() {
        let tag = format!("[{}/9] {step}: ", i + 1);
        let pos = out[at..]
            .find(&tag)
            .unwrap_or_else(|| panic!("no {tag} in:\n{out}"));
        at += pos;
    }
    assert!(out.contains("generated a new CA"), "{out}");

    // Infra: four veths with their addresses, each a port of the bridge; the mount lists.
    let veths = site.rows("/interface/veth").await;
    for (name, host) in [
        ("veth-registry", 3),
        ("veth-mkube", 2),
        ("veth-mkube-update", 5),
        ("veth-nats", 10),
    ] {
        let row = veths
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(row["address"], format!("{}/24", site.ip(host)));
    }
    let ports = site.rows("/interface/bridge/port").await;
    assert_eq!(ports.iter().filter(|p| p["bridge"] == BRIDGE).count(), 4);
    let mounts = site.rows("/container/mounts").await;
    assert_eq!(mounts.len(), 10, "{mounts:?}");
    assert!(
        mounts
            .iter()
            .any(|m| m["list"] == "kube.gt.lo.data" && m["dst"] == "/data")
    );
    for dir in [
        "raid1/volumes/kube.gt.lo/data/configmaps",
        "raid1/volumes/registry.gt.lo/data",
        "raid1/volumes/mkube-update-updater/data",
        "raid1/tarballs",
        "raid1/cache",
    ] {
        assert!(site.sim.disk().join(dir).is_dir(), "{dir}");
    }

    // Configs: the CA is the same in both clients' homes; the large mkube config travelled
    // by /tool/fetch and is byte-identical, with its checksum beside it.
    let ca = site.disk_file("raid1/volumes/kube.gt.lo/config/registry-ca.crt");
    assert_eq!(
        ca,
        site.disk_file("raid1/volumes/mkube-update-updater/config/registry-ca.crt")
    );
    assert_eq!(
        site.disk_file("raid1/volumes/kube.gt.lo/config/config.yaml"),
        std::fs::read(&mkube_config).unwrap()
    );
    assert!(
        site.sim
            .disk()
            .join("raid1/volumes/kube.gt.lo/config/config.yaml.sha256")
            .exists()
    );
    let reg_cfg =
        String::from_utf8(site.disk_file("raid1/volumes/registry.gt.lo/config/config.yaml"))
            .unwrap();
    assert!(
        reg_cfg.contains(&format!("listenAddr: {}", site.registry_host())),
        "{reg_cfg}"
    );
    let journal = site.control("GET", "/journal", None).await;
    assert!(
        journal
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == "/rest/tool/fetch")
    );

    // Containers: registry, NATS and mkube-update run; the registry answers over TLS with the
    // site CA and holds every seed.
    let containers = site.rows("/container").await;
    for name in ["registry.gt.lo", "nats.gt.lo", "mkube-update-updater"] {
        assert!(
            running(&containers, name),
            "{name} not running: {containers:?}"
        );
    }
    let http = site_http(&ca);
    for repo in ["mkube-registry", "nats", "mkube-update", "mkube"] {
        assert_eq!(
            head_manifest(&http, &site.registry_host(), repo).await,
            200,
            "{repo}"
        );
    }
    let cert = site.disk_file("raid1/volumes/registry.gt.lo/config/tls.crt");

    // mkube-update was handed what the installer deployed (images.md §5.2 [lesson]): its
    // record names each of the installer's containers with the seeded digest it runs, so a
    // push before its first poll is compared with that, not adopted as the baseline.
    assert!(out.contains("recorded the deployed digests of"), "{out}");
    let record: serde_json::Value = serde_json::from_slice(
        &site.disk_file("raid1/volumes/mkube-update-updater/data/update-state.json"),
    )
    .unwrap();
    for (repo, container) in [
        ("mkube-registry", "registry.gt.lo"),
        ("nats", "nats.gt.lo"),
        ("mkube-update", "mkube-update-updater"),
    ] {
        assert_eq!(
            record["deployed"][container],
            digest_of(&http, &site.registry_host(), repo).await,
            "{container}: {record}"
        );
    }

    // Second run: nothing to do, no write to the device, and it says so.
    site.clear_journal().await;
    let again = site.install(&extra).ok();
    assert!(
        site.journal_writes().await.is_empty(),
        "writes: {:?}",
        site.journal_writes().await
    );
    let out = again.stdout();
    assert!(out.contains("no write made"), "{out}");
    assert!(out.contains("certificates: reused"), "{out}");
    assert!(out.contains("4 images present"), "{out}");
    assert!(
        site.journal_reads().await <= 12,
        "reads: {}",
        site.journal_reads().await
    );
    assert_eq!(
        site.disk_file("raid1/volumes/registry.gt.lo/config/tls.crt"),
        cert
    );

    // --rotate-certs: a new CA and pair everywhere, the registry restarted and serving it.
    let rotated = site
        .install(&[&extra[..], &["--rotate-certs"]].concat())
        .ok();
    let out = rotated.stdout();
    assert!(
        out.contains("--rotate-certs") && out.contains("restarted"),
        "{out}"
    );
    let new_ca = site.disk_file("raid1/volumes/kube.gt.lo/config/registry-ca.crt");
    assert_ne!(new_ca, ca);
    assert_ne!(
        site.disk_file("raid1/volumes/registry.gt.lo/config/tls.crt"),
        cert
    );
    assert_eq!(
        new_ca,
        site.disk_file("raid1/volumes/mkube-update-updater/config/registry-ca.crt")
    );
    let http = site_http(&new_ca);
    assert_eq!(
        head_manifest(&http, &site.registry_host(), "nats").await,
        200
    );
    site.sim.stop().await;
}

#[actix_rt::test]
async fn installer_names_the_failed_step_and_a_later_run_completes() {
    let site = Site::start().await;
    // The device refuses the first container add: the registry step fails.
    site.control(
        "POST",
        "/faults",
        Some(
            json!({"method": "POST", "path": "/rest/container/add", "kind": "error",
                "status": 400, "detail": "failure: not enough space", "count": 1}),
        ),
    )
    .await;
    let failed = site.install(&[]);
    assert_eq!(failed.code(), 1, "{}\n{}", failed.stdout(), failed.stderr());
    let out = failed.stdout();
    assert!(out.contains("[5/9] registry: FAILED"), "{out}");
    assert!(
        out.contains("saw: ") && out.contains("not enough space"),
        "{out}"
    );
    assert!(out.contains("do: "), "{out}");
    assert!(!out.contains("[6/9]"), "{out}");

    // An unreachable upstream fails seeding when an image is missing from the device.
    let bad_upstream = site.install(&[
        "--upstream",
        "127.0.0.1:9",
        "--registry-image",
        &format!("{}/mkube-registry:edge", site.upstream.host()),
    ]);
    assert_eq!(
        bad_upstream.code(),
        1,
        "{}\n{}",
        bad_upstream.stdout(),
        bad_upstream.stderr()
    );
    let out = bad_upstream.stdout();
    assert!(
        out.contains("[6/9] seed: FAILED") && out.contains("127.0.0.1:9"),
        "{out}"
    );

    // The next run finds what the failed runs made and completes.
    let done = site.install(&[]).ok();
    assert!(
        done.stdout()
            .contains("mkube-update-updater created and started"),
        "{}",
        done.stdout()
    );
    let containers = site.rows("/container").await;
    assert_eq!(
        containers
            .iter()
            .filter(|c| c["name"] == "registry.gt.lo")
            .count(),
        1
    );

    // Without --boot-order an empty manifest is installed, so mkube's checker knows its desired
    // set is complete (a configured manifest that is missing stops every sweep, L-1 (a)); one
    // put there by hand is kept by a later run, which then writes nothing at all.
    let manifest = "raid1/volumes/kube.gt.lo/config/boot-order.yaml";
    assert_eq!(
        site.disk_file(manifest),
        mkube::installer::configs::EMPTY_BOOT_ORDER.as_bytes()
    );
    assert!(
        mkube::config::parse_manifest(mkube::installer::configs::EMPTY_BOOT_ORDER, "x")
            .unwrap()
            .pods
            .is_empty()
    );
    std::fs::write(site.sim.disk().join(manifest), "# mine\n").unwrap();
    site.clear_journal().await;
    site.install(&[]).ok();
    assert!(
        site.journal_writes().await.is_empty(),
        "writes: {:?}",
        site.journal_writes().await
    );
    assert_eq!(site.disk_file(manifest), b"# mine\n");
    site.sim.stop().await;
}

#[test]
fn installer_refuses_malformed_flags_clearly() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mkube-installer"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--device", "127.0.0.1", "--registry-ip", "300.1.1.1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--registry-ip"));
    let out = run(&["--registry-ip", "127.0.0.3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--device"));
    let out = run(&[
        "--device",
        "127.0.0.1",
        "--mkube-ip",
        "127.0.0.9",
        "--nats-ip",
        "127.0.0.9",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--mkube-ip and --nats-ip are both 127.0.0.9"),
        "{err}"
    );
    let out = run(&["--device", "127.0.0.1", "--seed", "mkube,nats"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mkube-update"));
    let out = run(&[
        "--device",
        "127.0.0.1",
        "--seed",
        "Not A Ref!,nats,mkube,mkube-update",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an image reference"));
}

/// Bench (benches/RESULTS.md, issue 15): the installer's device calls on a bare device and on a
/// re-run, with 100 ms of latency on every REST request. Run with
/// `cargo nextest run --run-ignored only -E 'test(installer_device_calls)' --no-capture`.
#[actix_rt::test]
#[ignore = "bench: run explicitly"]
async fn installer_device_calls_with_100ms_latency() {
    let site = Site::start().await;
    site.control("PATCH", "/knobs", Some(json!({"latencyMs": 100})))
        .await;
    for run in ["bare device", "re-run"] {
        site.clear_journal().await;
        let started = std::time::Instant::now();
        site.install(&[]).ok();
        let took = started.elapsed();
        let writes = site.journal_writes().await.len();
        let reads = site.journal_reads().await;
        println!(
            "BENCH installer {run}: {reads} reads, {writes} writes, {:.1} s",
            took.as_secs_f64()
        );
    }
    site.sim.stop().await;
}
