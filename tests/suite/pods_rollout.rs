//! Staggered image rollouts (images.md §4.4, L-12) and `POST /api/v1/images/redeploy`
//! (images.md §4.5, API-4) end to end: real nats-server, a real docker-registry, the
//! RouterOS simulator on loopback whose running containers answer probes (`probePorts`).

use crate::common::cluster;
use crate::engine_support::*;
use crate::registry_support::{self as rs, RegistryProc};

use actix_web::{App, test as web_test, web};
use k8s_openapi::api::core::v1::{HTTPGetAction, Pod, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use mkube::actors::rollout::Redeploying;
use mkube::actors::wiring::Cluster;
use mkube::api::{ApiState, configure};
use mkube::metrics::Metrics;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Pushes `<repo>:<tag>` (one layer whose `bin/app` holds `content`); its digest.
async fn push(reg: &RegistryProc, repo: &str, tag: &str, content: &str) -> String {
    use rs::*;
    let client = http_client();
    let base = reg.base();
    let config = json!({"architecture": "arm64", "os": "linux", "config": {"Cmd": ["/bin/app"]}, "rootfs": {"type": "layers", "diff_ids": []}})
        .to_string()
        .into_bytes();
    let config_digest = push_blob(&client, &base, repo, &config).await;
    let l = gzip(&layer(&[E::Dir("bin"), E::Exec("bin/app", content)]));
    let layer_digest = push_blob(&client, &base, repo, &l).await;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": GZ_LAYER, "digest": layer_digest, "size": l.len()}],
    })
    .to_string()
    .into_bytes();
    push_manifest(&client, &base, repo, tag, OCI_MANIFEST, &manifest).await
}

/// The engine config with the image cache on the simulator's disk (NAME-8 mapping) and a
/// short liveness bound.
fn config(env: &Env, reg: &RegistryProc, live_timeout: f64) -> mkube::config::Config {
    let cache = env.h.disk().join("raid1/cache");
    let mut cfg = env.cfg.clone();
    cfg.storage.tarball_cache = cache.display().to_string();
    cfg.storage.persistent_mounts = vec![mkube::config::PersistentMount {
        container_path: cache.display().to_string(),
        host_path: "raid1/cache".into(),
    }];
    cfg.registry.local_addresses = vec![reg.host()];
    cfg.lifecycle.rollout_live_timeout_seconds = live_timeout;
    for net in &mut cfg.networks {
        if net.ipam_end == "127.77.0.102" {
            net.ipam_end = "127.77.0.120".into();
        }
    }
    cfg
}

/// A pod running `image` from the registry, `auto` or not, with an httpGet liveness probe
/// on `probe_port`.
fn app_pod(name: &str, image: &str, auto: bool, probe_port: u16) -> Pod {
    let mut p = pod(name, &[]);
    let ann = p.metadata.annotations.as_mut().unwrap();
    ann.remove("vkube.io/file");
    if auto {
        ann.insert("vkube.io/image-policy".into(), "auto".into());
    }
    let c = &mut p.spec.as_mut().unwrap().containers[0];
    c.image = Some(image.to_string());
    c.liveness_probe = Some(Probe {
        http_get: Some(HTTPGetAction {
            port: IntOrString::Int(i32::from(probe_port)),
            path: Some("/healthz".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    p
}

/// A port free on loopback, for the simulator's probe listeners.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.77.0.250:0").unwrap();
    l.local_addr().unwrap().port()
}

/// (device id, recorded digest) of the pod's container.
async fn built(c: &Cluster, key: &str) -> (String, String) {
    let state = pods_state(c).await;
    let rec = &state.pods[key].containers["app"];
    (rec.device_id.clone(), rec.image_digest.clone())
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("default/{n}")).collect()
}

/// Journal index of the call adding pod `name`'s container.
fn add_of(journal: &[crate::routeros_support::Call], name: &str) -> usize {
    let device = format!("default_{name}_app");
    journal
        .iter()
        .position(|c| c.line() == "POST /container/add" && c.field("name") == device)
        .unwrap_or_else(|| panic!("{device} was not added"))
}

// images.md §4.4 / L-12: four auto pods share an image; one pass after a push recreates them
// one at a time — each next create starts only after the previous pod ran and answered its
// probe — records the new digest on each, and ten further passes restart nothing (§4.3).
#[actix_rt::test]
async fn pods_sharing_an_image_are_recreated_one_at_a_time() {
    let env = env().await;
    let port = free_port();
    env.h.knobs(json!({"probePorts": [port]})).await;
    let reg = rs::start_registry(None).await;
    let first = push(&reg, "app", "v1", "v1").await;
    let c = cluster::boot(&config(&env, &reg, 20.0)).await;
    let image = format!("{}/app:v1", reg.host());
    let names = ["p1", "p2", "p3", "p4"];
    for n in names {
        declare_created(&c, app_pod(n, &image, true, port)).await;
    }
    let before: Vec<_> = futures::future::join_all(keys(&names).iter().map(|k| built(&c, k))).await;
    assert!(before.iter().all(|(_, d)| *d == first));

    let second = push(&reg, "app", "v1", "v2").await;
    assert_ne!(first, second);
    env.h.clear_journal().await;
    let report = pass(&c).await;
    let ran: Vec<String> = report.ran.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(ran, keys(&names));
    assert!(
        report.ran.iter().all(|(_, r)| r.is_ok()),
        "{:?}",
        report.ran
    );
    for (k, (old_id, _)) in keys(&names).iter().zip(&before) {
        let (id, digest) = built(&c, k).await;
        assert_ne!(&id, old_id, "{k} rebuilt");
        assert_eq!(digest, second, "{k} stamped with the new digest");
    }
    // The order on the device: pod i's container is added, started, and read back as live
    // (the liveness read) before pod i+1's container is added.
    let journal = env.h.journal().await;
    for pair in names.windows(2) {
        let (this, next) = (add_of(&journal, pair[0]), add_of(&journal, pair[1]));
        assert!(this < next, "{pair:?} out of order");
        let between = &journal[this..next];
        let started = between
            .iter()
            .rposition(|c| c.line() == "POST /container/start")
            .unwrap_or_else(|| panic!("{} not started before {} was added", pair[0], pair[1]));
        let read = format!("name=default_{}_app", pair[0]);
        assert!(
            between[started..]
                .iter()
                .any(|c| c.method == "GET" && c.query.contains(&read)),
            "no liveness read of {} before {} was added",
            pair[0],
            pair[1]
        );
    }
    // Stamps recorded: nothing restarts afterwards (§4.3 invariant).
    let after: Vec<_> = futures::future::join_all(keys(&names).iter().map(|k| built(&c, k))).await;
    env.h.clear_journal().await;
    for _ in 0..10 {
        assert!(pass(&c).await.ran.is_empty());
    }
    assert!(writes(&env.h).await.is_empty());
    let again: Vec<_> = futures::future::join_all(keys(&names).iter().map(|k| built(&c, k))).await;
    assert_eq!(again, after);
}

// images.md §4.4: a pod that does not become live (its probe port is not listening) halts
// the image's rollout; the remaining pods keep their old container, and the halt is recorded.
#[actix_rt::test]
async fn a_pod_that_is_not_live_halts_the_rollout() {
    let env = env().await;
    let port = free_port();
    let reg = rs::start_registry(None).await;
    let first = push(&reg, "app", "v1", "v1").await;
    let cfg = config(&env, &reg, 1.0);
    let c = cluster::boot(&cfg).await;
    let image = format!("{}/app:v1", reg.host());
    let names = ["h1", "h2", "h3", "h4"];
    for n in names {
        declare_created(&c, app_pod(n, &image, true, port)).await;
    }
    let before: Vec<_> = futures::future::join_all(keys(&names).iter().map(|k| built(&c, k))).await;

    let second = push(&reg, "app", "v1", "v2").await;
    let started = Instant::now();
    let report = pass(&c).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for liveness"
    );
    assert_eq!(report.ran.len(), 1, "{:?}", report.ran);
    assert_eq!(report.ran[0].0, "default/h1");
    let reason = report.ran[0].1.as_ref().unwrap_err();
    assert!(reason.contains("probe"), "{reason}");
    assert_eq!(built(&c, "default/h1").await.1, second);
    for (k, old) in keys(&names).iter().zip(&before).skip(1) {
        assert_eq!(&built(&c, k).await, old, "{k} keeps its old container");
        assert_eq!(old.1, first);
    }
    let state = pods_state(&c).await;
    let failure = state.pods["default/h1"]
        .last_failure
        .clone()
        .unwrap_or_default();
    assert!(failure.starts_with("rollout of "), "{failure}");
    assert!(failure.contains("3 pod(s) left"), "{failure}");
    let (kinds, _) = log_kinds(&cfg).await;
    assert!(kinds.iter().any(|k| k == "pods.PodCreateFailed"));

    // The halt is remembered for this digest: the next passes leave the image alone.
    for _ in 0..2 {
        let again = pass(&c).await;
        assert!(
            again.ran.is_empty(),
            "halted rollout retried: {:?}",
            again.ran
        );
    }
    for (k, old) in keys(&names).iter().zip(&before).skip(1) {
        assert_eq!(&built(&c, k).await, old, "{k} still on its old container");
    }
    // A new push is a new digest: the rollout is tried again (and halts again at its first
    // pod, whose probe still fails).
    push(&reg, "app", "v1", "v3").await;
    let retried = pass(&c).await;
    assert_eq!(retried.ran.len(), 1, "{:?}", retried.ran);
}

async fn api(c: &Cluster, cfg: &mkube::config::Config) -> ApiState {
    let state = ApiState::new(cluster::NODE, Metrics::new(), &cfg.networks);
    let _ = state.cluster.set(c.clone());
    state
}

async fn redeploying(c: &Cluster) -> Vec<String> {
    let r = c.rollout.as_ref().expect("standalone cluster has rollouts");
    r.send(Redeploying).await.unwrap().into_iter().collect()
}

async fn until_idle(c: &Cluster) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !redeploying(c).await.is_empty() {
        assert!(Instant::now() < deadline, "redeploy never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// API-4 / images.md §4.5: the redeploy selects auto pods by the three matching rules, answers
// at once with the queued keys (null when none), rejects bad bodies with a 400 v1.Status,
// rebuilds the pods one at a time even though the digest did not move, and a reconcile pass
// during the redeploy leaves the marked pods alone (the redeploy/reconcile race).
#[actix_rt::test]
async fn redeploy_selects_queues_and_the_pass_skips_marked_pods() {
    let env = env().await;
    let port = free_port();
    let reg = rs::start_registry(None).await;
    push(&reg, "app", "v1", "v1").await;
    push(&reg, "team/app", "v1", "v1").await;
    push(&reg, "other", "v1", "v1").await;
    let cfg = config(&env, &reg, 30.0);
    let c = cluster::boot(&cfg).await;
    let h = reg.host();
    env.h.knobs(json!({"probePorts": [port]})).await;
    declare_created(&c, app_pod("a", &format!("{h}/app:v1"), true, port)).await;
    declare_created(&c, app_pod("b", &format!("{h}/team/app:v1"), true, port)).await;
    declare_created(&c, app_pod("fixed", &format!("{h}/app:v1"), false, port)).await;
    declare_created(&c, app_pod("other", &format!("{h}/other:v1"), true, port)).await;
    let app = web_test::init_service(
        App::new()
            .app_data(web::Data::new(api(&c, &cfg).await))
            .configure(configure),
    )
    .await;
    let post = |body: &str| {
        web_test::TestRequest::post()
            .uri("/api/v1/images/redeploy")
            .set_payload(body.to_string())
            .to_request()
    };
    for body in [
        "{not json",
        "{}",
        r#"{"image": ""}"#,
        "[1]",
        r#"{"image": 5}"#,
    ] {
        let resp = web_test::call_service(&app, post(body)).await;
        assert_eq!(resp.status(), 400, "{body}");
        let status: Value = web_test::read_body_json(resp).await;
        assert_eq!(status["kind"], "Status");
        assert_eq!(status["code"], 400);
    }
    let resp = web_test::call_service(&app, post(r#"{"image":"nothing:here"}"#)).await;
    assert_eq!(resp.status(), 200);
    let got: Value = web_test::read_body_json(resp).await;
    assert_eq!(
        got,
        json!({"status": "ok", "image": "nothing:here", "queued": null})
    );

    // Rules: equal (a), ends with `/<ref>` (b), same last component ignoring the tag.
    for (reference, want) in [
        (format!("{h}/app:v1"), vec!["default/a", "default/b"]),
        ("team/app:v1".to_string(), vec!["default/a", "default/b"]),
        ("other:edge".to_string(), vec!["default/other"]),
    ] {
        let before: Vec<_> = futures::future::join_all(want.iter().map(|k| built(&c, k))).await;
        let body = json!({ "image": reference }).to_string();
        let resp = web_test::call_service(&app, post(&body)).await;
        assert_eq!(resp.status(), 200);
        let got: Value = web_test::read_body_json(resp).await;
        assert_eq!(
            got,
            json!({"status": "ok", "image": reference, "queued": want})
        );
        until_idle(&c).await;
        for (k, (old_id, old_digest)) in want.iter().zip(&before) {
            let (id, digest) = built(&c, k).await;
            assert_ne!(&id, old_id, "{k} rebuilt by the redeploy");
            assert_eq!(&digest, old_digest, "same registry digest");
        }
    }

    // The race: while `a` waits for liveness (no probe listener), `b` is marked; its
    // container vanishes, yet the pass does not create a second copy.
    env.h.knobs(json!({"probePorts": []})).await;
    let body = json!({ "image": "app:v1" }).to_string();
    let resp = web_test::call_service(&app, post(&body)).await;
    let got: Value = web_test::read_body_json(resp).await;
    assert_eq!(got["queued"], json!(["default/a", "default/b"]));
    assert_eq!(redeploying(&c).await, keys(&["a", "b"]));
    let ros = ros(&env.h).await;
    assert!(ros.delete_container("default_b_app").await.unwrap());
    ros.wait_gone("default_b_app").await.unwrap();
    let report = pass(&c).await;
    assert!(
        report
            .ran
            .iter()
            .all(|(k, _)| k != "default/a" && k != "default/b"),
        "{:?}",
        report.ran
    );
    assert!(ros.find_container("default_b_app").await.unwrap().is_none());
    // The listener comes back: `a` turns live, `b` is rebuilt by the redeploy, marks clear.
    env.h.knobs(json!({"probePorts": [port]})).await;
    until_idle(&c).await;
    ros.wait_running("default_b_app").await.expect("b rebuilt");
    assert!(pass(&c).await.ran.is_empty());
}

/// A DNS pod: `app_pod` without an HTTP probe, declaring UDP port 53, at a static address.
fn dns_pod(name: &str, image: &str, ip: &str) -> Pod {
    let mut p = app_pod(name, image, true, 1);
    let ann = p.metadata.annotations.as_mut().unwrap();
    ann.insert("vkube.io/static-ip".into(), ip.into());
    let c = &mut p.spec.as_mut().unwrap().containers[0];
    c.liveness_probe = None;
    c.ports = Some(vec![k8s_openapi::api::core::v1::ContainerPort {
        container_port: 53,
        protocol: Some("UDP".into()),
        ..Default::default()
    }]);
    p
}

// L-12 / L-5 for DNS pods: a rebuilt pod that declares UDP 53 counts as live only once a real
// DNS query to its address answers (NXDOMAIN is an answer). Here only the first pod's address
// has a DNS server, so the rollout moves past it and halts at the second.
#[actix_rt::test]
async fn dns_pods_count_as_live_only_when_port_53_answers() {
    use mkube::sim::microdns::{self, MicrodnsSimOptions};
    let opts = MicrodnsSimOptions {
        dns_listen: Some("127.77.0.111:53".parse().unwrap()),
        ..Default::default()
    };
    let Ok(dns) = microdns::start(opts).await else {
        println!("SKIPPED: cannot listen on 127.77.0.111:53 (needs root or CAP_NET_BIND_SERVICE)");
        return;
    };
    let env = env().await;
    let reg = rs::start_registry(None).await;
    push(&reg, "dns", "v1", "v1").await;
    let cfg = config(&env, &reg, 1.5);
    let c = cluster::boot(&cfg).await;
    let image = format!("{}/dns:v1", reg.host());
    declare_created(&c, dns_pod("dns1", &image, "127.77.0.111")).await;
    declare_created(&c, dns_pod("dns2", &image, "127.77.0.112")).await;

    let second = push(&reg, "dns", "v1", "v2").await;
    let report = pass(&c).await;
    assert_eq!(report.ran.len(), 2, "{:?}", report.ran);
    assert_eq!(report.ran[0], ("default/dns1".to_string(), Ok(())));
    assert_eq!(report.ran[1].0, "default/dns2");
    let reason = report.ran[1].1.as_ref().unwrap_err();
    assert!(reason.contains("DNS on 127.77.0.112:53"), "{reason}");
    assert_eq!(built(&c, "default/dns1").await.1, second);
    dns.stop();
}
