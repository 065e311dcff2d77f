//! `remote-image=` through the simulator against a loopback registry (spec §3.3, §5.1-8):
//! add returns at once, the row shows E during the pull, then S with the layer extracted.

use crate::sim_common;

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, web};
use mkube::sim::routeros::Profile;
use serde_json::json;
use sha2::{Digest, Sha256};
use sim_common::{flag, s, start};

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// A plain-HTTP registry serving one image `test/app:latest`.
fn registry() -> (actix_web::dev::Server, u16) {
    let mut layer = tar::Builder::new(Vec::new());
    let data = b"pulled\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    layer.append_data(&mut h, "etc/pulled", &data[..]).unwrap();
    let layer = layer.into_inner().unwrap();
    let config = br#"{"architecture":"arm64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(&layer), "size": layer.len()}],
    })
    .to_string();
    let mut blobs = HashMap::new();
    blobs.insert(digest(&config), config);
    blobs.insert(digest(&layer), layer);
    let blobs = Arc::new(blobs);
    let manifest = Arc::new(manifest);
    let server = HttpServer::new(move || {
        let blobs = blobs.clone();
        let manifest = manifest.clone();
        App::new().default_service(web::to(move |req: actix_web::HttpRequest| {
            let blobs = blobs.clone();
            let manifest = manifest.clone();
            async move {
                let path = req.path().to_string();
                if path == "/v2/" || path == "/v2" {
                    return HttpResponse::Ok().json(json!({}));
                }
                if path.starts_with("/v2/test/app/manifests/") {
                    return HttpResponse::Ok()
                        .content_type("application/vnd.oci.image.manifest.v1+json")
                        .insert_header(("Docker-Content-Digest", digest(manifest.as_bytes())))
                        .body(manifest.as_str().to_owned());
                }
                if let Some(d) = path.strip_prefix("/v2/test/app/blobs/")
                    && let Some(b) = blobs.get(d)
                {
                    return HttpResponse::Ok()
                        .content_type("application/octet-stream")
                        .body(b.clone());
                }
                HttpResponse::NotFound().json(json!({"errors":[{"code":"NOT_FOUND"}]}))
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    (server.run(), port)
}

#[actix_rt::test]
async fn remote_image_pull_lands_in_root_dir() {
    let (server, port) = registry();
    let handle = server.handle();
    actix_rt::spawn(server);
    let sim = start(Profile::V7_22).await;
    sim.ok(
        "/interface/veth/add",
        json!({"name":"veth-registry","address":"127.43.0.2/24"}),
    )
    .await;
    sim.knobs(json!({"extractOverheadMs": 200_000})).await;
    let v = sim
        .ok(
            "/container/add",
            json!({"name":"registry.gt.lo","remote-image": format!("127.0.0.1:{port}/test/app:latest"),"check-certificate":"no","interface":"veth-registry","root-dir":"/raid1/images/registry.gt.lo","start-on-boot":"yes"}),
        )
        .await;
    assert!(s(&v, "ret").starts_with('*'));
    let row = sim
        .container("registry.gt.lo")
        .await
        .expect("row listed during the pull");
    assert!(flag(&row, "extracting"), "{row}");
    assert_eq!(s(&row, "repo"), format!("127.0.0.1:{port}/test/app:latest"));
    let row = sim.wait_flag("registry.gt.lo", "stopped").await;
    assert_eq!(s(&row, "root-dir"), "raid1/images/registry.gt.lo");
    let pulled = sim.disk().join("raid1/images/registry.gt.lo/etc/pulled");
    assert_eq!(std::fs::read_to_string(pulled).unwrap(), "pulled\n");
    sim.stop().await;
    handle.stop(false).await;
}
