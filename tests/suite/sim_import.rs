//! Image import for the RouterOS simulator: spec routeros-rest.md §5.1 item 7
//! (`file=` docker-save archives really extracted, whiteouts applied, malformed
//! archives fail) and item 8 (`remote-image=` pulls over the OCI distribution
//! protocol: Bearer token flow, manifest lists resolved for arm64, plain HTTP,
//! `check-certificate`), plus §5.2's pull bandwidth cap.
//!
//! The registry tests run Debian's `docker-registry` (2.8) on loopback; the
//! scripts/test runner installs it (`ensure_docker_registry`).

use crate::registry_support;

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mkube::sim::routeros::import::{
    ImportError, PullOptions, extract_docker_archive, pull_remote_image,
};
use registry_support::{
    E, OCI_MANIFEST, TAR_LAYER, free_port, gzip, http_client, layer, push_image, push_manifest,
    push_multi_arch, sha, start_registry,
};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// Building archives (layer builders live in registry_support)

/// A docker-save archive: `<id>/layer.tar` per layer, config, `repositories`,
/// and `manifest.json` last (as `docker save` did for years).
fn docker_save(
    layers: &[Vec<u8>],
    manifest_layers: Option<Vec<String>>,
    with_manifest: bool,
) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data).unwrap();
    };
    let config = br#"{"architecture":"arm64","os":"linux","config":{"Cmd":["/bin/tool"]}}"#;
    let cfg_name = format!("{}.json", hex::encode(Sha256::digest(config)));
    add(&cfg_name, config);
    let mut names = Vec::new();
    for l in layers {
        let id = hex::encode(Sha256::digest(l));
        add(&format!("{id}/VERSION"), b"1.0");
        add(&format!("{id}/layer.tar"), l);
        names.push(format!("{id}/layer.tar"));
    }
    add("repositories", br#"{"test":{"latest":"x"}}"#);
    if with_manifest {
        let manifest = serde_json::json!([{
            "Config": cfg_name,
            "RepoTags": ["test:latest"],
            "Layers": manifest_layers.unwrap_or(names),
        }]);
        add("manifest.json", manifest.to_string().as_bytes());
    }
    b.into_inner().unwrap()
}

/// The three layers of §5.1 item 7's scenario.
fn three_layers() -> Vec<Vec<u8>> {
    let base = layer(&[
        E::Dir("etc"),
        E::File("etc/app.conf", "v1"),
        E::File("etc/remove-me", "gone soon"),
        E::Dir("opt"),
        E::Dir("opt/data"),
        E::File("opt/data/old1", "old"),
        E::Dir("opt/data/sub"),
        E::File("opt/data/sub/old2", "old"),
        E::Dir("bin"),
        E::Exec("bin/tool", "#!/bin/sh\n"),
    ]);
    // Whiteouts; `new1` comes before the opaque marker and must survive it.
    let whiteouts = gzip(&layer(&[
        E::Dir("etc"),
        E::File("etc/.wh.remove-me", ""),
        E::Dir("opt/data"),
        E::File("opt/data/new1", "new"),
        E::File("opt/data/.wh..wh..opq", ""),
        E::File("opt/data/new2", "new"),
    ]));
    let adds = layer(&[
        E::File("etc/app.conf", "v3"),
        E::Dir("usr"),
        E::Dir("usr/lib"),
        E::File("usr/lib/libx.so", "lib"),
        E::Link("lib", "usr/lib"),
        E::File("lib/extra", "via symlink parent"),
        E::Hard("bin/tool2", "bin/tool"),
        // Escapes root-dir through a symlink: must be skipped, not written.
        E::Link("esc", "../../.."),
        E::File("esc/pwned", "outside"),
        // Absolute symlink targets resolve inside root-dir, like a chroot.
        E::Link("abs", "/usr"),
        E::File("abs/mkube-sim-import-abs-test", "inside"),
    ]);
    vec![base, whiteouts, adds]
}

/// Every path under `root`, not following symlinks: `d p`, `f p=content`, `l p->target`.
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                out.push(format!(
                    "l {rel}->{}",
                    std::fs::read_link(&path).unwrap().display()
                ));
            } else if meta.is_dir() {
                out.push(format!("d {rel}"));
                walk(root, &path, out);
            } else {
                let data = std::fs::read(&path).unwrap();
                out.push(format!("f {rel}={}", String::from_utf8_lossy(&data)));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn expected_tree() -> Vec<String> {
    let mut v: Vec<String> = [
        "d bin",
        "f bin/tool=#!/bin/sh\n",
        "f bin/tool2=#!/bin/sh\n",
        "d etc",
        "f etc/app.conf=v3",
        "d opt",
        "d opt/data",
        "f opt/data/new1=new",
        "f opt/data/new2=new",
        "d usr",
        "d usr/lib",
        "f usr/lib/libx.so=lib",
        "f usr/lib/extra=via symlink parent",
        "l lib->usr/lib",
        "l esc->../../..",
        "l abs->/usr",
        "f usr/mkube-sim-import-abs-test=inside",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.sort();
    v
}

/// Layout used by the archive tests: `<tmp>/work/root` is root-dir, the archive
/// sits in `<tmp>/in`, and nothing else may appear anywhere under `<tmp>`.
struct Sandbox {
    tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("work")).unwrap();
        std::fs::create_dir_all(tmp.path().join("in")).unwrap();
        Self { tmp }
    }
    fn root(&self) -> PathBuf {
        self.tmp.path().join("work/root")
    }
    fn archive(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.tmp.path().join("in").join(name);
        std::fs::write(&p, data).unwrap();
        p
    }
    /// Everything under `<tmp>` outside root-dir.
    fn outside(&self) -> Vec<String> {
        tree(self.tmp.path())
            .into_iter()
            .filter(|l| {
                !l.split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .starts_with("work/root")
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------
// §5.1 item 7: `file=` archives

fn check_three_layer_import(gzip_outer: bool) {
    let sb = Sandbox::new();
    let mut data = docker_save(&three_layers(), None, true);
    if gzip_outer {
        data = gzip(&data);
    }
    let name = if gzip_outer { "img.tar.gz" } else { "img.tar" };
    let archive = sb.archive(name, &data);
    let before = sb.outside();

    let outcome = extract_docker_archive(&archive, &sb.root()).expect("import");
    assert_eq!(outcome.layers, 3);
    assert!(outcome.bytes > 0);
    assert_eq!(outcome.digest, None);
    assert_eq!(tree(&sb.root()), expected_tree());
    // Modes survive; the hard link shares the inode.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let tool = std::fs::metadata(sb.root().join("bin/tool")).unwrap();
    assert_eq!(tool.permissions().mode() & 0o777, 0o755);
    let tool2 = std::fs::metadata(sb.root().join("bin/tool2")).unwrap();
    assert_eq!(tool.ino(), tool2.ino());
    // Nothing written outside root-dir (the `esc/pwned` entry was skipped).
    assert_eq!(sb.outside(), before);
    assert!(!Path::new("/usr/mkube-sim-import-abs-test").exists());
}

#[test]
fn docker_save_plain_tar_three_layers_with_whiteouts() {
    check_three_layer_import(false);
}

#[test]
fn docker_save_tar_gz_three_layers_with_whiteouts() {
    check_three_layer_import(true);
}

#[test]
fn docker_25_layout_with_symlinked_layer_entries() {
    // `<id>/layer.tar` as a symlink to `blobs/sha256/<hex>` (newer docker save).
    let sb = Sandbox::new();
    let l = layer(&[E::File("hello", "world")]);
    let hexd = hex::encode(Sha256::digest(&l));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(l.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, format!("blobs/sha256/{hexd}"), &l[..])
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(
        &mut h,
        format!("{hexd}/layer.tar"),
        format!("../blobs/sha256/{hexd}"),
    )
    .unwrap();
    let manifest =
        serde_json::json!([{"Config":"blobs/sha256/cfg","Layers":[format!("{hexd}/layer.tar")]}]);
    for (path, data) in [
        ("blobs/sha256/cfg", b"{}".to_vec()),
        ("manifest.json", manifest.to_string().into_bytes()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, &data[..]).unwrap();
    }
    let archive = sb.archive("new.tar", &b.into_inner().unwrap());
    extract_docker_archive(&archive, &sb.root()).expect("import");
    assert_eq!(tree(&sb.root()), vec!["f hello=world".to_string()]);
}

fn assert_rejected(sb: &Sandbox, data: &[u8], what: &str) -> ImportError {
    let archive = sb.archive("bad.tar", data);
    let before = sb.outside();
    let err = extract_docker_archive(&archive, &sb.root()).expect_err(what);
    assert_eq!(
        sb.outside(),
        before,
        "{what}: something was written outside root-dir"
    );
    err
}

#[test]
fn malformed_random_bytes() {
    let sb = Sandbox::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let junk: Vec<u8> = (0..10_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let err = assert_rejected(&sb, &junk, "random bytes");
    assert!(matches!(err, ImportError::Malformed(_)), "{err:?}");
}

#[test]
fn malformed_missing_manifest() {
    let sb = Sandbox::new();
    let data = docker_save(&three_layers(), None, false);
    let err = assert_rejected(&sb, &data, "no manifest.json");
    assert!(matches!(err, ImportError::Malformed(_)), "{err:?}");
    assert!(
        err.to_string().contains("no manifest.json in archive"),
        "{err}"
    );
}

#[test]
fn malformed_manifest_names_missing_layer() {
    let sb = Sandbox::new();
    let data = docker_save(&three_layers(), Some(vec!["nope/layer.tar".into()]), true);
    let err = assert_rejected(&sb, &data, "missing layer");
    assert!(err.to_string().contains("nope/layer.tar"), "{err}");
}

#[test]
fn malformed_missing_archive_file() {
    let sb = Sandbox::new();
    let err = extract_docker_archive(&sb.tmp.path().join("in/absent.tar"), &sb.root()).unwrap_err();
    assert!(matches!(err, ImportError::NotFound(_)), "{err:?}");
}

#[test]
fn path_traversal_entry_is_rejected_and_nothing_escapes() {
    let sb = Sandbox::new();
    for name in ["../evil", "/abs-evil"] {
        let l = layer(&[E::File("ok", "fine"), E::Raw(name, "evil")]);
        let err = assert_rejected(&sb, &docker_save(&[l], None, true), name);
        assert!(matches!(err, ImportError::Malformed(_)), "{err:?}");
        assert!(!sb.tmp.path().join("work/evil").exists());
        assert!(!Path::new("/abs-evil").exists());
    }
}

#[test]
fn zstd_layer_is_refused_clearly() {
    let sb = Sandbox::new();
    let fake_zstd = vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0];
    let err = assert_rejected(&sb, &docker_save(&[fake_zstd], None, true), "zstd");
    assert!(matches!(err, ImportError::Unsupported(_)), "{err:?}");
    assert!(err.to_string().contains("zstd"));
}

// ---------------------------------------------------------------------------
// §5.1 item 8: pulls from a real registry (Debian docker-registry 2.8, started
// and filled by registry_support)

fn http_opts() -> PullOptions {
    PullOptions {
        check_certificate: true,
        ..PullOptions::default()
    }
}

#[tokio::test]
async fn pull_multi_arch_index_from_docker_registry() {
    let reg = start_registry(None).await;
    let base = format!("http://127.0.0.1:{}", reg.port);
    let client = http_client();
    let (arm, amd) = push_multi_arch(&client, &base).await;
    let host = format!("127.0.0.1:{}", reg.port);

    // arm64 (profile default) from the index; plain HTTP after HTTPS fails.
    let root = tempfile::tempdir().unwrap();
    let out = pull_remote_image(&format!("{host}/app:multi"), root.path(), &http_opts())
        .await
        .expect("pull arm64");
    assert_eq!(out.layers, 2);
    assert_eq!(out.digest.as_deref(), Some(arm.as_str()));
    assert!(out.bytes > 0);
    assert_eq!(
        tree(root.path()),
        vec!["d etc", "f etc/arch=arm64", "f etc/top=arm-top"]
    );

    // amd64 picks the other entry.
    let root = tempfile::tempdir().unwrap();
    let opts = PullOptions {
        arch: "amd64".into(),
        ..http_opts()
    };
    let out = pull_remote_image(&format!("{host}/app:multi"), root.path(), &opts)
        .await
        .expect("pull amd64");
    assert_eq!(out.digest.as_deref(), Some(amd.as_str()));
    assert_eq!(tree(root.path()), vec!["d etc", "f etc/arch=amd64"]);

    // By digest, and via registry-url when the reference has no host.
    let root = tempfile::tempdir().unwrap();
    pull_remote_image(&format!("{host}/app@{arm}"), root.path(), &http_opts())
        .await
        .expect("pull by digest");
    assert_eq!(
        tree(root.path()),
        vec!["d etc", "f etc/arch=arm64", "f etc/top=arm-top"]
    );
    let root = tempfile::tempdir().unwrap();
    let opts = PullOptions {
        default_registry: format!("http://{host}"),
        ..http_opts()
    };
    let out = pull_remote_image("app:arm", root.path(), &opts)
        .await
        .expect("pull via registry-url");
    assert_eq!(out.digest.as_deref(), Some(arm.as_str()));

    // No image for the architecture.
    let opts = PullOptions {
        arch: "riscv64".into(),
        ..http_opts()
    };
    let err = pull_remote_image(&format!("{host}/app:multi"), root.path(), &opts)
        .await
        .unwrap_err();
    assert!(matches!(err, ImportError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn pull_missing_tag_or_repo_is_not_found() {
    let reg = start_registry(None).await;
    let client = http_client();
    push_multi_arch(&client, &format!("http://127.0.0.1:{}", reg.port)).await;
    let root = tempfile::tempdir().unwrap();
    for reference in ["app:nope", "ghost:latest"] {
        let err = pull_remote_image(
            &format!("127.0.0.1:{}/{reference}", reg.port),
            root.path(),
            &http_opts(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, ImportError::NotFound(_)),
            "{reference}: {err:?}"
        );
    }
}

#[tokio::test]
async fn pull_from_registry_that_is_down_fails() {
    let port = free_port();
    let root = tempfile::tempdir().unwrap();
    let err = pull_remote_image(
        &format!("127.0.0.1:{port}/app:latest"),
        root.path(),
        &http_opts(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ImportError::Registry(_)), "{err:?}");
    assert!(err.to_string().contains("could not connect"), "{err}");
}

#[tokio::test]
async fn pull_bandwidth_cap_slows_the_download() {
    // §5.2: pull bandwidth cap for remote images.
    let reg = start_registry(None).await;
    let client = http_client();
    let big: String = (0..40_000u32)
        .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
        .collect();
    let l = layer(&[E::File("big", &big)]);
    let base = format!("http://127.0.0.1:{}", reg.port);
    let (_, body) = push_image(&client, &base, "slow", "arm64", &[(l.clone(), TAR_LAYER)]).await;
    push_manifest(&client, &base, "slow", "latest", OCI_MANIFEST, &body).await;
    let root = tempfile::tempdir().unwrap();
    let rate = 50_000;
    let opts = PullOptions {
        bytes_per_sec: Some(rate),
        ..http_opts()
    };
    let started = Instant::now();
    let out = pull_remote_image(
        &format!("127.0.0.1:{}/slow:latest", reg.port),
        root.path(),
        &opts,
    )
    .await
    .expect("pull");
    let min = Duration::from_secs_f64(out.bytes as f64 / rate as f64 * 0.9);
    assert!(
        started.elapsed() >= min,
        "{:?} < {min:?}",
        started.elapsed()
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join("big")).unwrap(),
        big
    );
}

// ---------------------------------------------------------------------------
// §5.1 item 8: Bearer token flow, against a tiny token-auth gate

struct Gate {
    port: u16,
    token_requests: Arc<Mutex<Vec<String>>>,
}

/// Serves one image as repository `app`, tag `latest` (and a corrupt one as
/// `corrupt`), behind Bearer auth.
/// `/token` wants `service=test&scope=repository:app:pull` and, when
/// `credentials` is set, matching Basic credentials.
fn start_gate(credentials: Option<(&'static str, &'static str)>) -> Gate {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    use base64::Engine as _;

    let l = gzip(&layer(&[E::File("hello", "from the gate")]));
    let config = br#"{"architecture":"arm64","os":"linux"}"#.to_vec();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": sha(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": sha(&l), "size": l.len()}],
    })
    .to_string()
    .into_bytes();
    let mut content: HashMap<String, (&'static str, Vec<u8>)> = HashMap::new();
    content.insert(
        "/v2/app/manifests/latest".into(),
        (
            "application/vnd.docker.distribution.manifest.v2+json",
            manifest,
        ),
    );
    content.insert(
        format!("/v2/app/blobs/{}", sha(&l)),
        ("application/octet-stream", l),
    );
    content.insert(
        format!("/v2/app/blobs/{}", sha(&config)),
        ("application/octet-stream", config.clone()),
    );
    // `app:corrupt` names a layer whose served bytes do not match its digest.
    let claimed = gzip(&layer(&[E::File("hello", "claimed")]));
    let corrupt = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": sha(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": sha(&claimed), "size": claimed.len()}],
    })
    .to_string()
    .into_bytes();
    content.insert(
        "/v2/app/manifests/corrupt".into(),
        (
            "application/vnd.docker.distribution.manifest.v2+json",
            corrupt,
        ),
    );
    let served = gzip(&layer(&[E::File("hello", "tampered")]));
    content.insert(
        format!("/v2/app/blobs/{}", sha(&claimed)),
        ("application/octet-stream", served),
    );
    let content = Arc::new(content);

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let token_requests = Arc::new(Mutex::new(Vec::new()));
    let seen = token_requests.clone();
    let want_basic = credentials.map(|(u, p)| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    });
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                let content = content.clone();
                let seen = seen.clone();
                let want_basic = want_basic.clone();
                App::new().default_service(web::to(move |req: HttpRequest| {
                    let content = content.clone();
                    let seen = seen.clone();
                    let want_basic = want_basic.clone();
                    async move {
                        let auth = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        if req.path() == "/token" {
                            seen.lock().unwrap().push(req.query_string().to_string());
                            let q = web::Query::<BTreeMap<String, String>>::from_query(req.query_string()).unwrap();
                            let scope_ok = q.get("service").map(String::as_str) == Some("test")
                                && q.get("scope").map(String::as_str) == Some("repository:app:pull");
                            let creds_ok = want_basic.as_ref().is_none_or(|w| *w == auth);
                            return if scope_ok && creds_ok {
                                HttpResponse::Ok().json(serde_json::json!({"token": "tok-123"}))
                            } else {
                                HttpResponse::Unauthorized().finish()
                            };
                        }
                        if auth != "Bearer tok-123" {
                            return HttpResponse::Unauthorized()
                                .insert_header((
                                    "www-authenticate",
                                    format!(
                                        r#"Bearer realm="http://127.0.0.1:{port}/token",service="test",scope="repository:app:pull""#
                                    ),
                                ))
                                .finish();
                        }
                        match content.get(req.path()) {
                            Some((ct, body)) => HttpResponse::Ok().content_type(*ct).body(body.clone()),
                            None if req.path() == "/v2/" => HttpResponse::Ok().finish(),
                            None => HttpResponse::NotFound().finish(),
                        }
                    }
                }))
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run()
            .await
            .unwrap();
        });
    });
    Gate {
        port,
        token_requests,
    }
}

#[tokio::test]
async fn bearer_token_flow_anonymous() {
    let gate = start_gate(None);
    let root = tempfile::tempdir().unwrap();
    let out = pull_remote_image(
        &format!("127.0.0.1:{}/app:latest", gate.port),
        root.path(),
        &http_opts(),
    )
    .await
    .expect("pull through bearer gate");
    assert_eq!(out.layers, 1);
    assert_eq!(tree(root.path()), vec!["f hello=from the gate"]);
    let seen = gate.token_requests.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "token fetched once and reused: {seen:?}");
}

#[tokio::test]
async fn bearer_token_flow_with_credentials() {
    let gate = start_gate(Some(("user", "secret")));
    let root = tempfile::tempdir().unwrap();
    let reference = format!("127.0.0.1:{}/app:latest", gate.port);
    let err = pull_remote_image(&reference, root.path(), &http_opts())
        .await
        .unwrap_err();
    assert!(matches!(err, ImportError::Registry(_)), "{err:?}");
    let wrong = PullOptions {
        username: Some("user".into()),
        password: Some("wrong".into()),
        ..http_opts()
    };
    assert!(
        pull_remote_image(&reference, root.path(), &wrong)
            .await
            .is_err()
    );
    let right = PullOptions {
        username: Some("user".into()),
        password: Some("secret".into()),
        ..http_opts()
    };
    pull_remote_image(&reference, root.path(), &right)
        .await
        .expect("pull with credentials");
    assert_eq!(tree(root.path()), vec!["f hello=from the gate"]);
}

// ---------------------------------------------------------------------------
// §5.1 item 8: `check-certificate` against docker-registry serving TLS

/// A throwaway CA (ECDSA P-256) and a server certificate for IP 127.0.0.1 signed by it,
/// written as PEM files: (CA, server certificate, server key).
fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mkube test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer).unwrap();
    let paths = (dir.join("ca.pem"), dir.join("srv.pem"), dir.join("srv.key"));
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

#[tokio::test]
async fn pull_over_tls_honours_check_certificate() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_certs(certs.path());
    let reg = start_registry(Some((&cert, &key))).await;
    let ca_pem = std::fs::read(&ca).unwrap();

    // Push over HTTPS with a client that trusts the test CA.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject as _;
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&ca_pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let client = reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap();
    let (arm, _) = push_multi_arch(&client, &format!("https://127.0.0.1:{}", reg.port)).await;
    let reference = format!("127.0.0.1:{}/app:multi", reg.port);

    // check-certificate=no: any certificate is fine.
    let root = tempfile::tempdir().unwrap();
    let opts = PullOptions {
        check_certificate: false,
        ..PullOptions::default()
    };
    let out = pull_remote_image(&reference, root.path(), &opts)
        .await
        .expect("insecure pull");
    assert_eq!(out.digest.as_deref(), Some(arm.as_str()));
    assert_eq!(
        tree(root.path()),
        vec!["d etc", "f etc/arch=arm64", "f etc/top=arm-top"]
    );

    // check-certificate=yes without the CA: refused, and no fallback to plain HTTP.
    let root = tempfile::tempdir().unwrap();
    let err = pull_remote_image(&reference, root.path(), &PullOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ImportError::Certificate(_)), "{err:?}");
    assert_eq!(tree(root.path()), Vec::<String>::new());

    // check-certificate=yes with the CA trusted.
    let opts = PullOptions {
        extra_roots: vec![ca_pem],
        ..PullOptions::default()
    };
    let out = pull_remote_image(&reference, root.path(), &opts)
        .await
        .expect("verified pull");
    assert_eq!(out.digest.as_deref(), Some(arm.as_str()));
}

#[tokio::test]
async fn blob_digest_mismatch_is_rejected_before_extraction() {
    let gate = start_gate(None);
    let root = tempfile::tempdir().unwrap();
    let err = pull_remote_image(
        &format!("127.0.0.1:{}/app:corrupt", gate.port),
        root.path(),
        &http_opts(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    assert_eq!(tree(root.path()), Vec::<String>::new());
}

#[test]
fn long_names_and_hard_links_in_gnu_extensions() {
    let sb = Sandbox::new();
    let deep = format!("{}/file", "d".repeat(120));
    let link = format!("{}/hard", "h".repeat(110));
    let l = layer(&[E::File(&deep, "deep"), E::Hard(&link, &deep)]);
    let archive = sb.archive("long.tar", &docker_save(&[l], None, true));
    extract_docker_archive(&archive, &sb.root()).expect("import");
    assert_eq!(
        std::fs::read_to_string(sb.root().join(&link)).unwrap(),
        "deep"
    );
}
