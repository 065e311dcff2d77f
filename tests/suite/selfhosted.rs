//! The whole chain of issue 15 with real processes: a bare `routeros-sim --run-containers` →
//! `mkube-installer` → registry, NATS and mkube-update running as processes in the device →
//! mkube-update bootstraps mkube (`kube.gt.lo`) from the device's registry → mkube, inside the
//! device, replays its log from the NATS container and answers the Kubernetes API on its
//! container address → a pod posted to it runs as a container on the device. The installer run
//! again writes nothing; a new `mkube:edge` pushed to the device's registry replaces the mkube
//! container, and the new mkube lists the pod from its replayed log while the pod's container
//! is left as it was (same device id, still running); a new `mkube-update:edge` replaces the
//! updater through mkube's update API (self-update), mkube and the pod untouched.

use serde_json::json;

use crate::images_support::archives;
use crate::installer_support::rebuilt_archive;
use crate::selfhosted_support::{SelfHosted, get_json, http, is_running, row};

const POD_CONTAINER: &str = "default_web_nats";

#[actix_rt::test]
async fn a_bare_device_installs_itself_runs_pods_and_replaces_mkube_with_its_state() {
    // mkube-update bootstraps mkube from the device's registry; mkube answers on its address.
    let sh = SelfHosted::install().await;
    let site = &sh.site;
    let api = sh.api.clone();
    let containers = || async { site.rows("/container").await };
    let rows = containers().await;
    let mkube_id = row(&rows, "kube.gt.lo").unwrap()[".id"].clone();
    eprintln!("selfhosted: mkube answers; posting a pod");

    // A pod from the device's registry, through mkube's Kubernetes API, runs on the device.
    let pod_ip = site.ip(150);
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default",
                     "annotations": {"vkube.io/static-ip": pod_ip.to_string()}},
        "spec": {"containers": [{"name": "nats",
            "image": format!("{}/nats:edge", site.registry_host()),
            "command": ["-a", pod_ip.to_string(), "-p", "4222"]}]}
    });
    let resp = http()
        .post(format!("{api}/api/v1/namespaces/default/pods"))
        .json(&pod)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let pod_url = format!("{api}/api/v1/namespaces/default/pods/web");
    sh.until(180, "the pod never ran", || async {
        let p = get_json(&pod_url).await?;
        (p["status"]["phase"] == "Running").then_some(())
    })
    .await;
    let rows = containers().await;
    let pod_row = row(&rows, POD_CONTAINER)
        .unwrap_or_else(|| panic!("no {POD_CONTAINER}: {rows:?}"))
        .clone();
    assert!(is_running(&pod_row), "{pod_row:?}");
    // It is a real process: the NATS server of the pod answers on the pod's address.
    sh.until(30, "the pod's process never listened", || async {
        tokio::net::TcpStream::connect((pod_ip, 4222)).await.ok()
    })
    .await;

    eprintln!("selfhosted: the pod runs; installing again");
    // The installer again: the device already matches, nothing is written.
    site.clear_journal().await;
    let again = sh.install_again().ok();
    assert!(
        again.stdout().contains("no write made"),
        "{}",
        again.stdout()
    );
    let writes = site.journal_writes().await;
    assert!(writes.is_empty(), "writes: {writes:?}");

    // A new mkube:edge in the device's registry: mkube-update replaces kube.gt.lo.
    let rebuilt = rebuilt_archive(&archives().join("mkube.tar"), "selfhosted-test");
    sh.push(&rebuilt, "mkube").await;
    eprintln!("selfhosted: a new mkube:edge pushed");
    sh.until(300, "kube.gt.lo was never replaced", || async {
        let rows = site.rows("/container").await;
        let r = row(&rows, "kube.gt.lo")?;
        (r[".id"] != mkube_id && is_running(r)).then_some(())
    })
    .await;

    eprintln!("selfhosted: kube.gt.lo replaced");
    // The new mkube replays its log: the pod is still listed, and its container untouched.
    sh.until(180, "the new mkube never listed the pod", || async {
        let p = get_json(&pod_url).await?;
        (p["metadata"]["name"] == "web").then_some(())
    })
    .await;
    let rows = containers().await;
    let after = row(&rows, POD_CONTAINER).expect("pod container").clone();
    assert_eq!(after[".id"], pod_row[".id"], "{after:?}");
    assert!(is_running(&after), "{after:?}");
    assert_eq!(
        rows.iter().filter(|r| r["name"] == "kube.gt.lo").count(),
        1,
        "{rows:?}"
    );

    // A new mkube-update:edge: it cannot replace its own container, so it asks mkube's update
    // API; a new updater runs, and mkube and the pod are left as they were.
    let updater_id = row(&rows, "mkube-update-updater").unwrap()[".id"].clone();
    let mkube_now = row(&rows, "kube.gt.lo").unwrap()[".id"].clone();
    // Only once mkube-update has recorded what it runs (images.md §5.2 adoption).
    sh.until_recorded("mkube-update-updater").await;
    let rebuilt = rebuilt_archive(&archives().join("mkube-update.tar"), "selfhosted-test");
    sh.push(&rebuilt, "mkube-update").await;
    eprintln!("selfhosted: a new mkube-update:edge pushed");
    sh.until(300, "mkube-update-updater was never replaced", || async {
        let rows = site.rows("/container").await;
        let r = row(&rows, "mkube-update-updater")?;
        (r[".id"] != updater_id && is_running(r)).then_some(())
    })
    .await;
    eprintln!("selfhosted: mkube-update-updater replaced");
    let rows = containers().await;
    assert_eq!(row(&rows, "kube.gt.lo").unwrap()[".id"], mkube_now);
    assert_eq!(row(&rows, POD_CONTAINER).unwrap()[".id"], pod_row[".id"]);
    assert_eq!(
        rows.iter()
            .filter(|r| r["name"] == "mkube-update-updater")
            .count(),
        1,
        "{rows:?}"
    );
    sh.site.sim.stop().await;
}
