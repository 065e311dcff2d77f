//! The whole chain of issue 15 with real processes: a bare `routeros-sim --run-containers` →
//! `mkube-installer` → registry, NATS and mkube-update running as processes in the device →
//! mkube-update bootstraps mkube (`kube.gt.lo`) from the device's registry → mkube, inside the
//! device, replays its log from the NATS container and answers the Kubernetes API on its
//! container address → a pod posted to it runs as a container on the device. The installer run
//! again writes nothing; a new `mkube:edge` pushed to the device's registry replaces the mkube
//! container, and the new mkube lists the pod from its replayed log while the pod's container
//! is left as it was (same device id, still running); a new `mkube-update:edge` replaces the
//! updater through mkube's update API (self-update), mkube and the pod untouched.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::images_support::archives;
use crate::installer_support::{Site, rebuilt_archive};
use crate::registry_support::skopeo;

const POD_CONTAINER: &str = "default_web_nats";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn get_json(url: &str) -> Option<Value> {
    let resp = http().get(url).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

/// Waits (up to `secs`) until `check` gives `Some`; on time-out panics with `what` and what
/// the device and mkube show (the containers, the device log's tail, the pods).
async fn until<T, F, Fut>(site: &Site, secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() > deadline {
            let rows = site.rows("/container").await;
            let log = site.rows("/log").await;
            let log: Vec<&Value> = log
                .iter()
                .filter(|l| {
                    let m = l["message"].as_str().unwrap_or_default();
                    !m.contains("RECONCILE") && !m.contains("CONSISTENCY")
                })
                .collect();
            let tail: Vec<String> = log[log.len().saturating_sub(60)..]
                .iter()
                .map(|l| {
                    l["message"]
                        .as_str()
                        .unwrap_or_default()
                        .chars()
                        .take(400)
                        .collect()
                })
                .collect();
            let pods = get_json(&format!("http://{}:8082/api/v1/pods", site.ip(2))).await;
            panic!(
                "{what}\ncontainers: {rows:#?}\npods: {pods:?}\ndevice log:\n{}",
                tail.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn row<'a>(rows: &'a [Value], name: &str) -> Option<&'a Value> {
    rows.iter().find(|r| r["name"] == name)
}

fn is_running(r: &Value) -> bool {
    r["running"].as_str() == Some("true")
}

#[actix_rt::test]
async fn a_bare_device_installs_itself_runs_pods_and_replaces_mkube_with_its_state() {
    let site = Site::start_with(true).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, site.mkube_config()).unwrap();
    let config = config.to_str().unwrap().to_string();
    let extra = ["--mkube-config", config.as_str()];

    site.install(&extra).ok();
    eprintln!("selfhosted: installed; waiting for mkube");

    // mkube-update bootstraps mkube from the device's registry; mkube answers on its address.
    let api = format!("http://{}:8082", site.ip(2));
    let containers = || async { site.rows("/container").await };
    let ready = format!("{api}/readyz");
    until(
        &site,
        240,
        "mkube (kube.gt.lo) never answered /readyz",
        || async {
            http()
                .get(&ready)
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
        },
    )
    .await;
    let rows = containers().await;
    for name in [
        "registry.gt.lo",
        "nats.gt.lo",
        "mkube-update-updater",
        "kube.gt.lo",
    ] {
        assert!(
            row(&rows, name).is_some_and(is_running),
            "{name} not running: {rows:?}"
        );
    }
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
    until(&site, 180, "the pod never ran", || async {
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
    until(&site, 30, "the pod's process never listened", || async {
        tokio::net::TcpStream::connect((pod_ip, 4222)).await.ok()
    })
    .await;

    eprintln!("selfhosted: the pod runs; installing again");
    // The installer again: the device already matches, nothing is written.
    site.clear_journal().await;
    let again = site.install(&extra).ok();
    assert!(
        again.stdout().contains("no write made"),
        "{}",
        again.stdout()
    );
    let writes = site.journal_writes().await;
    assert!(writes.is_empty(), "writes: {writes:?}");

    // A new mkube:edge in the device's registry: mkube-update replaces kube.gt.lo.
    let rebuilt = rebuilt_archive(&archives().join("mkube.tar"), "selfhosted-test");
    skopeo(&[
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        &format!("docker-archive:{}", rebuilt.display()),
        &format!("docker://{}/mkube:edge", site.registry_host()),
    ]);
    eprintln!("selfhosted: a new mkube:edge pushed");
    until(&site, 300, "kube.gt.lo was never replaced", || async {
        let rows = site.rows("/container").await;
        let r = row(&rows, "kube.gt.lo")?;
        (r[".id"] != mkube_id && is_running(r)).then_some(())
    })
    .await;

    eprintln!("selfhosted: kube.gt.lo replaced");
    // The new mkube replays its log: the pod is still listed, and its container untouched.
    until(&site, 180, "the new mkube never listed the pod", || async {
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
    // Only once mkube-update has recorded what it runs: a container with no record adopts the
    // registry's current digest, so a push landing before that first look would be adopted,
    // not deployed (a limit of mkube-update's adoption, images.md §5.2).
    let state = site
        .sim
        .disk()
        .join("raid1/volumes/mkube-update-updater/data/update-state.json");
    until(&site, 120, "mkube-update never recorded itself", || async {
        let text = std::fs::read_to_string(&state).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        v["deployed"]["mkube-update-updater"].as_str().map(|_| ())
    })
    .await;
    let rebuilt = rebuilt_archive(&archives().join("mkube-update.tar"), "selfhosted-test");
    skopeo(&[
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        &format!("docker-archive:{}", rebuilt.display()),
        &format!("docker://{}/mkube-update:edge", site.registry_host()),
    ]);
    eprintln!("selfhosted: a new mkube-update:edge pushed");
    until(
        &site,
        300,
        "mkube-update-updater was never replaced",
        || async {
            let rows = site.rows("/container").await;
            let r = row(&rows, "mkube-update-updater")?;
            (r[".id"] != updater_id && is_running(r)).then_some(())
        },
    )
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
    site.sim.stop().await;
}
