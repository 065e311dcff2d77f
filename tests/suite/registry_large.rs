//! Large uploads over TLS, spec images.md §7.3-3: "Push a 1 GiB random layer over TLS with
//! skopeo and with ten parallel 100 MiB layers: all digests verify, no connection reset."
//! (The HTTP/2-GOAWAY lesson of §2.6 is why this exists.)
//!
//! mkube-registry runs in process with a generated certificate (TLS and plain HTTP on one
//! port); skopeo pushes with `--dest-cert-dir` holding only the generated CA, so the server
//! certificate is really verified (a push without the CA is shown to fail first). Every
//! blob is read back over HTTPS and hashed. Layers are random data streamed to disk, never
//! held in memory. Needs about 3 GiB free in the temp dir, else it prints `SKIPPED: …` to
//! stderr and passes. Timings belong to `benches/registry.rs`, not here.

use crate::registry_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use futures::StreamExt;
use mkube::registry::certs::{self, CertRequest};
use mkube::registry::listener::TlsFiles;
use mkube::registry::{self, RegistryOptions};
use registry_support::{RandomBlob, free_bytes, skopeo, write_random_layout};
use sha2::{Digest as _, Sha256};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Peak disk use: the 1 GiB source and its copy in the store, then (source removed) ten
/// 100 MiB sources and their copies next to the 1 GiB blob; plus slack for metadata.
const NEEDED: u64 = 3 * GIB + 256 * MIB;

fn https_client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(mkube::tls::client_config(false, &[ca_pem.as_bytes()]).unwrap())
        .no_proxy()
        .build()
        .unwrap()
}

/// GETs a blob over HTTPS and returns (digest of what arrived, bytes).
async fn read_back(
    client: &reqwest::Client,
    base: &str,
    repo: &str,
    digest: &str,
) -> (String, u64) {
    let resp = client
        .get(format!("{base}/v2/{repo}/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "GET blob {digest}");
    let mut body = resp.bytes_stream();
    let mut h = Sha256::new();
    let mut n = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap_or_else(|e| panic!("reading {digest} back: {e}"));
        h.update(&chunk);
        n += chunk.len() as u64;
    }
    (format!("sha256:{}", hex::encode(h.finalize())), n)
}

/// `skopeo copy` over verified TLS; asserts success and that nothing reported a reset.
fn push_tls(cert_dir: &Path, src: &Path, dest: &str) {
    let out = Command::new("skopeo")
        .arg("copy")
        .arg("--dest-cert-dir")
        .arg(cert_dir)
        .arg(format!("oci:{}:1", src.display()))
        .arg(format!("docker://{dest}"))
        .output()
        .expect("skopeo not found (scripts/test: ensure_skopeo)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "skopeo copy to {dest} failed: {stderr}"
    );
    assert!(
        !stderr.contains("connection reset") && !stderr.contains("GOAWAY"),
        "{stderr}"
    );
}

/// What skopeo (over verified TLS) says `dest` is: (manifest digest, layer digests).
fn inspect_tls(cert_dir: &Path, dest: &str) -> (String, Vec<String>) {
    let v: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--cert-dir",
        &cert_dir.display().to_string(),
        &format!("docker://{dest}"),
    ]))
    .unwrap();
    let layers = v["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    (v["Digest"].as_str().unwrap().to_string(), layers)
}

fn layer_digests(layers: &[RandomBlob]) -> Vec<String> {
    layers.iter().map(|l| l.digest.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_layer_and_ten_parallel_100_mib_layers_over_tls() {
    let tmp = tempfile::tempdir().unwrap();
    if let Some(free) = free_bytes(tmp.path())
        && free < NEEDED
    {
        eprintln!(
            "SKIPPED: needs {:.1} GiB free, have {:.1} GiB (in {})",
            NEEDED as f64 / GIB as f64,
            free as f64 / GIB as f64,
            tmp.path().display()
        );
        return;
    }

    let generated = certs::generate(&CertRequest {
        ips: vec![],
        dns_names: vec![],
        days: 1,
    })
    .unwrap();
    let tls_dir = tmp.path().join("tls");
    certs::write_files(&generated, &tls_dir).unwrap();
    // skopeo's cert dir: `*.crt` are CAs. Only the generated CA, no client certificate.
    let ca_dir = tmp.path().join("ca");
    std::fs::create_dir_all(&ca_dir).unwrap();
    std::fs::copy(tls_dir.join("ca.crt"), ca_dir.join("ca.crt")).unwrap();
    let mut opts = RegistryOptions::new(tmp.path().join("store"));
    opts.tls = Some(TlsFiles {
        cert: tls_dir.join("tls.crt"),
        key: tls_dir.join("tls.key"),
    });
    let reg = registry::start(opts).await.unwrap();
    let host = reg.host();
    let base = reg.tls_url().unwrap();
    let client = https_client(&generated.ca_cert_pem);

    // Without the CA, skopeo refuses the server certificate: the pushes below really verify
    // it (no fallback to plain HTTP).
    let no_ca = tmp.path().join("no-ca");
    std::fs::create_dir_all(&no_ca).unwrap();
    let out = Command::new("skopeo")
        .arg("inspect")
        .arg("--cert-dir")
        .arg(&no_ca)
        .arg(format!("docker://{host}/large/one:1"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("certificate"),
        "expected a certificate error without the CA: {stderr}"
    );

    // 1 GiB in one layer.
    let src: PathBuf = tmp.path().join("one");
    let image = tokio::task::block_in_place(|| write_random_layout(&src, "1", &[GIB]));
    let dest = format!("{host}/large/one:1");
    tokio::task::block_in_place(|| push_tls(&ca_dir, &src, &dest));
    std::fs::remove_dir_all(&src).unwrap();
    let (digest, layers) = tokio::task::block_in_place(|| inspect_tls(&ca_dir, &dest));
    assert_eq!(digest, image.manifest_digest);
    assert_eq!(layers, layer_digests(&image.layers));
    let layer = &image.layers[0];
    assert_eq!(
        read_back(&client, &base, "large/one", &layer.digest).await,
        (layer.digest.clone(), layer.size),
        "1 GiB layer read back over TLS"
    );

    // Ten 100 MiB layers, pushed by ten skopeo processes at once (one image each).
    let srcs: Vec<PathBuf> = (0..10)
        .map(|i| tmp.path().join(format!("par-{i}")))
        .collect();
    let images: Vec<_> = tokio::task::block_in_place(|| {
        srcs.iter()
            .map(|d| write_random_layout(d, "1", &[100 * MIB]))
            .collect()
    });
    tokio::task::block_in_place(|| {
        std::thread::scope(|s| {
            for (i, d) in srcs.iter().enumerate() {
                let dest = format!("{host}/large/par{i}:1");
                let ca_dir = &ca_dir;
                s.spawn(move || push_tls(ca_dir, d, &dest));
            }
        })
    });
    for d in &srcs {
        std::fs::remove_dir_all(d).unwrap();
    }
    let reads = images.iter().enumerate().map(|(i, image)| {
        let (client, base) = (client.clone(), base.clone());
        let layer = image.layers[0].clone();
        async move {
            let got = read_back(&client, &base, &format!("large/par{i}"), &layer.digest).await;
            assert_eq!(got, (layer.digest.clone(), layer.size), "layer {i}");
        }
    });
    futures::future::join_all(reads).await;
    for (i, image) in images.iter().enumerate() {
        let (digest, layers) =
            tokio::task::block_in_place(|| inspect_tls(&ca_dir, &format!("{host}/large/par{i}:1")));
        assert_eq!(digest, image.manifest_digest, "image {i}");
        assert_eq!(layers, layer_digests(&image.layers), "image {i}");
    }
    assert_eq!(reg.open_sessions(), 0, "every upload session was committed");
    reg.stop().await;
}
