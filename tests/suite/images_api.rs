//! `GET /api/v1/images` and `POST /api/v1/registry/push-notify` through the in-process API on
//! a booted cluster and a real registry (images.md §3.13, §4.1, §7.5 items 4–5).

use crate::common;
use crate::registry_support;

use actix_web::{App, test as web_test, web};
use common::{NatsServer, cluster};
use futures::StreamExt;
use mkube::actors::images::EnsureImage;
use mkube::api::{ApiState, configure};
use mkube::events::catalogue::ImagesEvent;
use mkube::metrics::Metrics;
use registry_support::*;

#[actix_rt::test]
async fn list_images_and_push_notify() {
    let nats = NatsServer::start();
    let reg = start_registry(None).await;
    let dir = tempfile::tempdir().unwrap();
    let client = http_client();
    for (repo, tag) in [("zeta", "edge"), ("alpha", "edge"), ("alpha", "test")] {
        let l = gzip(&layer(&[E::File("f", repo)]));
        let (_, body) = push_image(&client, &reg.base(), repo, "arm64", &[(l, GZ_LAYER)]).await;
        push_manifest(&client, &reg.base(), repo, tag, OCI_MANIFEST, &body).await;
    }
    let mut cfg = cluster::config(&nats.url());
    cfg.storage.tarball_cache = dir.path().display().to_string();
    cfg.storage.self_root_dir = "raid1/images/kube.gt.lo".into();
    cfg.registry.local_addresses = vec![reg.host()];
    let c = cluster::boot(&cfg).await;
    for r in ["zeta:edge", "alpha:edge", "alpha:test"] {
        c.images
            .send(EnsureImage {
                reference: format!("localhost/{r}"),
                correlation: "t".into(),
            })
            .await
            .unwrap()
            .unwrap();
    }
    let state = ApiState::new(cluster::NODE, Metrics::new(), &cfg.networks);
    let _ = state.cluster.set(c.clone());
    let app = web_test::init_service(
        App::new()
            .app_data(web::Data::new(state))
            .configure(configure),
    )
    .await;

    // GET: sorted by ref, six fields, real sizes, host-visible paths (NAME-8 selfRootDir).
    let req = web_test::TestRequest::get()
        .uri("/api/v1/images")
        .to_request();
    let resp = web_test::call_service(&app, req).await;
    assert_eq!(resp.status(), 200);
    let list: Vec<serde_json::Value> = web_test::read_body_json(resp).await;
    let refs: Vec<&str> = list.iter().map(|i| i["ref"].as_str().unwrap()).collect();
    let h = reg.host();
    assert_eq!(
        refs,
        [
            format!("{h}/alpha:edge"),
            format!("{h}/alpha:test"),
            format!("{h}/zeta:edge")
        ]
    );
    for item in &list {
        let obj = item.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            ["digest", "inUse", "pulledAt", "ref", "size", "tarballPath"]
        );
        let path = item["tarballPath"].as_str().unwrap();
        assert!(path.starts_with("raid1/images/kube.gt.lo/"), "{path}");
        let local = format!(
            "/{}",
            path.strip_prefix("raid1/images/kube.gt.lo/").unwrap()
        );
        assert_eq!(
            item["size"].as_u64().unwrap(),
            std::fs::metadata(local).unwrap().len()
        );
        assert!(item["digest"].as_str().unwrap().starts_with("sha256:"));
        assert!(item["pulledAt"].as_str().unwrap().ends_with('Z'));
        assert_eq!(item["inUse"], 0);
    }

    // push-notify: bad bodies are 400 v1.Status: not JSON, no image, not an object (serde
    // would read the struct from an array), a reference outside the distribution grammar.
    for body in [
        "{not json",
        "{}",
        r#"{"image": ""}"#,
        "[1]",
        r#"["alpha:test"]"#,
        r#"{"image": "Alpha:test"}"#,
        r#"{"image": "*#\\"}"#,
        r#"{"image": "alpha:-x"}"#,
    ] {
        let req = web_test::TestRequest::post()
            .uri("/api/v1/registry/push-notify")
            .set_payload(body)
            .to_request();
        let resp = web_test::call_service(&app, req).await;
        assert_eq!(resp.status(), 400, "{body}");
        let status: serde_json::Value = web_test::read_body_json(resp).await;
        assert_eq!(status["kind"], "Status");
        assert_eq!(status["code"], 400);
    }

    // A tag push invalidates only that tag and records the push for the pods actor.
    let req = web_test::TestRequest::post()
        .uri("/api/v1/registry/push-notify")
        .set_payload(r#"{"image":"alpha:test"}"#)
        .to_request();
    let resp = web_test::call_service(&app, req).await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = web_test::read_body_json(resp).await;
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "image": "alpha:test"})
    );
    let req = web_test::TestRequest::get()
        .uri("/api/v1/images")
        .to_request();
    let list: Vec<serde_json::Value> = web_test::call_and_read_body_json(&app, req).await;
    let refs: Vec<&str> = list.iter().map(|i| i["ref"].as_str().unwrap()).collect();
    assert_eq!(refs, [format!("{h}/alpha:edge"), format!("{h}/zeta:edge")]);

    let log = cluster::log(&cfg).await;
    let records: Vec<_> = log
        .read(1, u64::MAX)
        .await
        .unwrap()
        .collect::<Vec<_>>()
        .await;
    let pushes: Vec<ImagesEvent> = records
        .into_iter()
        .filter_map(|r| r.ok())
        .filter_map(|r| match r.decode().ok()?.event {
            mkube::events::Event::Images(e @ ImagesEvent::PushNotified { .. }) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(
        pushes,
        [ImagesEvent::PushNotified {
            repository: format!("{h}/alpha"),
            tag: Some("test".into()),
        }]
    );
}

// The event added for push notifications round-trips through the envelope codec and lands on
// the repository's subject.
#[test]
fn push_notified_round_trips_on_the_repository_subject() {
    use mkube::events::{Envelope, subject};
    for event in common::samples::later() {
        let env = Envelope::new("rose1", "images", "c", event.clone());
        let back = Envelope::decode(&env.encode(), 1).expect("decodes");
        assert_eq!(back.event, event);
        assert_eq!(back.kind(), common::samples::kind_name(&event));
        let s = subject::for_event("rose1", &event);
        assert!(s.starts_with("mkube.rose1.images."), "{s}");
    }
}
