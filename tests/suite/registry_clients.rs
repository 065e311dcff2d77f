//! mkube-registry with a real OCI client (skopeo from Debian): spec images.md §7.1.
//! scripts/test installs skopeo (`ensure_skopeo`) and docker-registry.

use crate::registry_support;

use std::path::Path;

use mkube::registry::{self, RegistryOptions, RunningRegistry};
use registry_support::{
    E, GZ_LAYER, LayoutImage, TAR_LAYER, gzip, http_client, layer, sha, skopeo, write_oci_layout,
};

async fn start(store: &Path) -> RunningRegistry {
    registry::start(RegistryOptions::new(store.to_path_buf()))
        .await
        .unwrap()
}

fn blobs_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// §7.1-2: skopeo copy into the registry, inspect, list-tags, copy back byte-identical.
#[tokio::test]
async fn skopeo_push_inspect_list_pull_roundtrip() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = start(&tmp.path().join("store")).await;
    let src = tmp.path().join("src");
    let l1 = gzip(&layer(&[E::Dir("etc"), E::File("etc/hello", "world")]));
    let l2 = gzip(&layer(&[E::File("etc/top", "x")]));
    let top = write_oci_layout(
        &src,
        "1",
        &[LayoutImage {
            arch: "arm64",
            layers: &[(l1, GZ_LAYER), (l2, GZ_LAYER)],
        }],
    );
    let dest = format!("docker://{}/t/a:1", reg.host());
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:1", src.display()),
        &dest,
    ]);

    let inspect: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--tls-verify=false", &dest])).unwrap();
    assert_eq!(inspect["Digest"], top.as_str());
    assert_eq!(inspect["Architecture"], "arm64");
    let tags: serde_json::Value = serde_json::from_str(&skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}/t/a", reg.host()),
    ]))
    .unwrap();
    assert_eq!(tags["Tags"], serde_json::json!(["1"]));

    let back = tmp.path().join("back");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &dest,
        &format!("oci:{}:1", back.display()),
    ]);
    assert_eq!(
        blobs_of(&src),
        blobs_of(&back),
        "manifest and blobs byte-identical"
    );
    reg.stop().await;
}

/// §7.1-3: multi-arch index with --all: the index and every child resolve by digest, the
/// tags list shows only the tag.
#[tokio::test]
async fn skopeo_multi_arch_all() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = start(&tmp.path().join("store")).await;
    let src = tmp.path().join("src");
    let arm = gzip(&layer(&[E::File("arch", "arm64")]));
    let amd = gzip(&layer(&[E::File("arch", "amd64")]));
    let top = write_oci_layout(
        &src,
        "1",
        &[
            LayoutImage {
                arch: "amd64",
                layers: &[(amd, GZ_LAYER)],
            },
            LayoutImage {
                arch: "arm64",
                layers: &[(arm, GZ_LAYER)],
            },
        ],
    );
    skopeo(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        &format!("oci:{}:1", src.display()),
        &format!("docker://{}/t/multi:1", reg.host()),
    ]);
    let c = http_client();
    let base = reg.base_url();
    let r = c
        .get(format!("{base}/v2/t/multi/manifests/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-content-digest"], top.as_str());
    assert_eq!(r.headers()["content-type"], registry_support::OCI_INDEX);
    let index: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    let children = index["manifests"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    for ch in children {
        let d = ch["digest"].as_str().unwrap();
        let r = c
            .get(format!("{base}/v2/t/multi/manifests/{d}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(sha(&r.bytes().await.unwrap()), d);
    }
    let r = c
        .get(format!("{base}/v2/t/multi/manifests/{top}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let tags: serde_json::Value = c
        .get(format!("{base}/v2/t/multi/tags/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tags, serde_json::json!({"name": "t/multi", "tags": ["1"]}));
    reg.stop().await;
}

/// §7.1-5: cross-repo mount: 201 for every existing blob; an unknown digest opens a
/// session (202) that the client's DELETE cancels (204). A second skopeo copy into another
/// repository succeeds.
#[tokio::test]
async fn cross_repo_mount() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = start(&tmp.path().join("store")).await;
    let src = tmp.path().join("src");
    write_oci_layout(
        &src,
        "1",
        &[LayoutImage {
            arch: "arm64",
            layers: &[(gzip(&layer(&[E::File("a", "b")])), GZ_LAYER)],
        }],
    );
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:1", src.display()),
        &format!("docker://{}/t/a:1", reg.host()),
    ]);
    let c = http_client();
    let base = reg.base_url();
    for (name, _) in blobs_of(&src) {
        let d = format!("sha256:{name}");
        let r = c
            .post(format!(
                "{base}/v2/t/other/blobs/uploads/?mount={d}&from=t/a"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "mount {d}");
        assert_eq!(
            r.headers()["location"],
            format!("/v2/t/other/blobs/{d}").as_str()
        );
        assert_eq!(r.headers()["docker-content-digest"], d.as_str());
    }
    let unknown = sha(b"never pushed");
    let r = c
        .post(format!(
            "{base}/v2/t/other/blobs/uploads/?mount={unknown}&from=t/a"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = c.delete(format!("{base}{loc}")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = c.get(format!("{base}{loc}")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{}/t/a:1", reg.host()),
        &format!("docker://{}/t/b:2", reg.host()),
    ]);
    let r = c
        .get(format!("{base}/v2/t/b/manifests/2"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    reg.stop().await;
}

/// §7.1-7 (light): 8 clients push different images while 8 pull the same one.
#[tokio::test]
async fn concurrent_pushes_and_pulls() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = start(&tmp.path().join("store")).await;
    let c = http_client();
    let base = reg.base_url();
    let big = vec![7u8; 4 * 1024 * 1024];
    let (shared, _) =
        registry_support::push_image(&c, &base, "shared", "arm64", &[(big, TAR_LAYER)]).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (c1, base1) = (c.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let (c, base) = (c1, base1);
            let data = vec![i as u8; 2 * 1024 * 1024];
            registry_support::push_image(
                &c,
                &base,
                &format!("p/img{i}"),
                "arm64",
                &[(data, TAR_LAYER)],
            )
            .await;
        }));
        let (c, base, shared) = (c.clone(), base.clone(), shared.clone());
        tasks.push(tokio::spawn(async move {
            let m: serde_json::Value = c
                .get(format!("{base}/v2/shared/manifests/{shared}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let d = m["layers"][0]["digest"].as_str().unwrap();
            let body = c
                .get(format!("{base}/v2/shared/blobs/{d}"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(sha(&body), d);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let cat: serde_json::Value = c
        .get(format!("{base}/v2/_catalog"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cat["repositories"].as_array().unwrap().len(), 9);
    reg.stop().await;
}
