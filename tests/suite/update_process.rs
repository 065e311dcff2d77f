//! mkube-update with containers that really run (`routeros-sim --run-containers`): the probe
//! program (tests/suite/fixtures/process/probe.rs) pushed as images to a real mkube-registry.
//! A new image replaces the container and the new process answers (its report in the mounted
//! `/data` names the new version); a broken image (exits at once) is rolled back and the old
//! process runs again (images.md §5.3, issue 15).

use crate::images_support::probe_archive;
use crate::registry_support::{OCI_MANIFEST, TAR_LAYER, push_blob, push_manifest, sha};
use crate::update_support::{Site, s};
use mkube::update::poll::WatchOutcome;
use serde_json::json;
use std::time::{Duration, Instant};

/// Pushes the probe as `repo:tag` for this machine's architecture with `cmd`.
async fn push_probe(site: &Site, repo: &str, tag: &str, cmd: &[&str]) -> String {
    let archive = probe_archive();
    let probe = std::fs::read(archive.parent().unwrap().join("probe")).unwrap();
    let layer = crate::registry_support::layer(&[
        crate::registry_support::E::Dir("data/"),
        crate::registry_support::E::Dir("etc/"),
    ]);
    // The probe binary goes in its own layer (the helper builds text entries only).
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_size(probe.len() as u64);
    b.append_data(&mut h, "probe", &probe[..]).unwrap();
    let bin_layer = b.into_inner().unwrap();
    let arch = mkube::oci::manifest::normalise_arch(std::env::consts::ARCH);
    let config = json!({"architecture": arch, "os": "linux",
        "config": {"Entrypoint": ["/probe"], "Cmd": cmd},
        "rootfs": {"type": "layers", "diff_ids": [sha(&layer), sha(&bin_layer)]}})
    .to_string()
    .into_bytes();
    let base = site.registry.base_url();
    let config_digest = push_blob(&site.http, &base, repo, &config).await;
    let mut layers = Vec::new();
    for l in [&layer, &bin_layer] {
        let d = push_blob(&site.http, &base, repo, l).await;
        layers.push(json!({"mediaType": TAR_LAYER, "digest": d, "size": l.len()}));
    }
    let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": layers})
    .to_string()
    .into_bytes();
    push_manifest(&site.http, &base, repo, tag, OCI_MANIFEST, &manifest).await
}

/// The probe's report in the container's `/data` (a mount of `raid1/volumes/app1/data`).
fn report(site: &Site) -> String {
    std::fs::read_to_string(site.sim.disk().join("raid1/volumes/app1/data/report.txt"))
        .unwrap_or_default()
}

async fn report_says(site: &Site, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !report(site).contains(needle) {
        assert!(Instant::now() < deadline, "report: {}", report(site));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_pushed_image_replaces_the_running_process_and_a_broken_one_is_rolled_back() {
    let site = Site::start_with(true).await;
    push_probe(&site, "app", "edge", &["stay", "version-1"]).await;
    std::fs::create_dir_all(site.sim.disk().join("raid1/volumes/app1/data")).unwrap();
    site.sim
        .ok(
            "/container/mounts/add",
            json!({"list": "app1", "src": "raid1/volumes/app1/data", "dst": "/data"}),
        )
        .await;
    site.container(
        "app1",
        &site.image("app", "edge"),
        json!({"mountlists": "app1"}),
    )
    .await;
    report_says(&site, "version-1").await;
    let watch =
        "healthSeconds: 0.5\nwatches:\n  - repo: app\n    tags: [edge]\n    container: app1\n";
    let text = site.config_text(watch).replace("healthSeconds: 0.3\n", "");
    let u = mkube::update::Updater::connect(mkube::update::config::parse(&text).unwrap())
        .await
        .unwrap();
    u.cycle().await;

    // A new image: the container is replaced and the new process answers.
    push_probe(&site, "app", "edge", &["stay", "version-2"]).await;
    let out = u.cycle().await;
    assert!(matches!(out[0].1, WatchOutcome::Replaced { .. }), "{out:?}");
    report_says(&site, "version-2").await;
    assert_eq!(s(&site.row("app1").await.unwrap(), "running"), "true");

    // A broken image exits at once: three starts, then version 2 runs again.
    std::fs::remove_file(site.sim.disk().join("raid1/volumes/app1/data/report.txt")).unwrap();
    push_probe(&site, "app", "edge", &["exit=3"]).await;
    let out = u.cycle().await;
    assert!(
        matches!(&out[0].1, WatchOutcome::Failed { reason, .. } if reason.contains("rolled back")),
        "{out:?}"
    );
    report_says(&site, "version-2").await;
    let row = site.row("app1").await.unwrap();
    assert_eq!(s(&row, "running"), "true");
    assert!(s(&row, "repo").contains("/app@sha256:"), "{row}");
}
