//! Shared harness for the tests that pull from a real registry: Debian's
//! `docker-registry` (2.8) started on a free loopback port with a throwaway
//! store, layer tar builders, and plain OCI distribution push calls.
//! Declared once in `main.rs`; test modules `use crate::registry_support`.
//!
//! The scripts/test runner installs the registry (`ensure_docker_registry`).

#![allow(dead_code)]

pub mod events;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// Building layers

/// One entry of a layer tar.
pub enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a str),
    Exec(&'a str, &'a str),
    Link(&'a str, &'a str),
    Hard(&'a str, &'a str),
    /// Raw name written straight into the header (bypasses the tar crate's checks).
    Raw(&'a str, &'a str),
}

pub fn layer(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        match e {
            E::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            E::File(p, data) | E::Exec(p, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(if matches!(e, E::Exec(..)) {
                    0o755
                } else {
                    0o644
                });
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, data.as_bytes()).unwrap();
            }
            E::Link(p, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, target).unwrap();
            }
            E::Hard(p, target) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_link(&mut h, p, target).unwrap();
            }
            E::Raw(name, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                let raw = &mut h.as_old_mut().name;
                raw[..name.len()].copy_from_slice(name.as_bytes());
                h.set_cksum();
                b.append(&h, data.as_bytes()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

// ---------------------------------------------------------------------------
// docker-registry on loopback, and pushing to it

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A `docker-registry serve` child on loopback, killed on drop.
pub struct RegistryProc {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl RegistryProc {
    /// `127.0.0.1:<port>`, as written in image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port>` (plain HTTP registries only).
    pub fn base(&self) -> String {
        format!("http://{}", self.host())
    }
}

impl Drop for RegistryProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tls`: (certificate, key) paths.
pub async fn start_registry(tls: Option<(&Path, &Path)>) -> RegistryProc {
    assert!(
        Path::new(REGISTRY_BIN).exists(),
        "{REGISTRY_BIN} not found: install the Debian package `docker-registry` \
         (scripts/test does it via ensure_docker_registry)"
    );
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let tls_cfg = tls.map_or(String::new(), |(c, k)| {
        format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            c.display(),
            k.display()
        )
    });
    let config = format!(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: test-secret\n{tls_cfg}",
        dir.path().join("data").display()
    );
    let cfg_path = dir.path().join("config.yml");
    std::fs::write(&cfg_path, config).unwrap();
    let child = Command::new(REGISTRY_BIN)
        .arg("serve")
        .arg(&cfg_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn docker-registry");
    let mut reg = RegistryProc {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        if let Ok(Some(status)) = reg.child.try_wait() {
            panic!("docker-registry exited: {status}");
        }
        assert!(Instant::now() < deadline, "docker-registry did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reg
}

pub fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Plain OCI push calls: POST uploads/ → PUT ?digest=…
pub async fn push_blob(client: &reqwest::Client, base: &str, repo: &str, data: &[u8]) -> String {
    let digest = sha(data);
    let resp = client
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202, "start upload");
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let url = if location.starts_with("http") {
        location
    } else {
        format!("{base}{location}")
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let resp = client
        .put(format!("{url}{sep}digest={digest}"))
        .header("content-type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        201,
        "finish upload: {}",
        resp.text().await.unwrap()
    );
    digest
}

pub async fn push_manifest(
    client: &reqwest::Client,
    base: &str,
    repo: &str,
    reference: &str,
    media_type: &str,
    body: &[u8],
) -> String {
    let resp = client
        .put(format!("{base}/v2/{repo}/manifests/{reference}"))
        .header("content-type", media_type)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        201,
        "push manifest: {}",
        resp.text().await.unwrap()
    );
    sha(body)
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Push a single-platform image; returns (manifest digest, manifest body).
pub async fn push_image(
    client: &reqwest::Client,
    base: &str,
    repo: &str,
    arch: &str,
    layers: &[(Vec<u8>, &str)],
) -> (String, Vec<u8>) {
    let config = serde_json::json!({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
        .to_string()
        .into_bytes();
    let config_digest = push_blob(client, base, repo, &config).await;
    let mut descs = Vec::new();
    for (data, media_type) in layers {
        let digest = push_blob(client, base, repo, data).await;
        descs.push(
            serde_json::json!({"mediaType": media_type, "digest": digest, "size": data.len()}),
        );
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": descs,
    })
    .to_string()
    .into_bytes();
    let digest = push_manifest(client, base, repo, &sha(&manifest), OCI_MANIFEST, &manifest).await;
    (digest, manifest)
}

pub const GZ_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const TAR_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// One platform entry of an image index.
pub struct Platform<'a> {
    pub arch: &'a str,
    pub variant: Option<&'a str>,
    /// Manifest digest and body, as returned by [`push_image`].
    pub digest: &'a str,
    pub body: &'a [u8],
}

/// Push an OCI image index under `repo:tag`; returns its digest.
pub async fn push_index(
    client: &reqwest::Client,
    base: &str,
    repo: &str,
    tag: &str,
    platforms: &[Platform<'_>],
) -> String {
    let manifests: Vec<serde_json::Value> = platforms
        .iter()
        .map(|p| {
            let mut platform = serde_json::json!({"os": "linux", "architecture": p.arch});
            if let Some(v) = p.variant {
                platform["variant"] = v.into();
            }
            serde_json::json!({"mediaType": OCI_MANIFEST, "digest": p.digest, "size": p.body.len(), "platform": platform})
        })
        .collect();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": manifests,
    })
    .to_string()
    .into_bytes();
    push_manifest(client, base, repo, tag, OCI_INDEX, &index).await
}

/// Multi-arch `app:multi` (amd64 + arm64 with different content) and `app:arm`.
/// Returns the arm64 and amd64 manifest digests.
pub async fn push_multi_arch(client: &reqwest::Client, base: &str) -> (String, String) {
    let arm_base = gzip(&layer(&[
        E::Dir("etc"),
        E::File("etc/arch", "arm64"),
        E::File("etc/old", "x"),
    ]));
    let arm_top = layer(&[E::File("etc/.wh.old", ""), E::File("etc/top", "arm-top")]);
    let (arm, arm_body) = push_image(
        client,
        base,
        "app",
        "arm64",
        &[(arm_base, GZ_LAYER), (arm_top, TAR_LAYER)],
    )
    .await;
    let amd_layer = gzip(&layer(&[E::Dir("etc"), E::File("etc/arch", "amd64")]));
    let (amd, amd_body) = push_image(client, base, "app", "amd64", &[(amd_layer, GZ_LAYER)]).await;
    let platforms = [
        Platform {
            arch: "amd64",
            variant: None,
            digest: &amd,
            body: &amd_body,
        },
        Platform {
            arch: "arm64",
            variant: Some("v8"),
            digest: &arm,
            body: &arm_body,
        },
    ];
    push_index(client, base, "app", "multi", &platforms).await;
    push_manifest(client, base, "app", "arm", OCI_MANIFEST, &arm_body).await;
    (arm, amd)
}

// ---------------------------------------------------------------------------
// OCI image layouts (for `skopeo copy oci:…`) and raw HTTP (paths no URL library
// would leave alone, clients that vanish mid-body)

/// One image of an OCI layout: config JSON and layers (bytes, media type).
pub struct LayoutImage<'a> {
    pub arch: &'a str,
    pub layers: &'a [(Vec<u8>, &'a str)],
}

fn layout_blob(dir: &Path, data: &[u8]) -> String {
    let digest = sha(data);
    let path = dir.join("blobs/sha256").join(&digest["sha256:".len()..]);
    std::fs::write(path, data).unwrap();
    digest
}

/// Writes an OCI image layout at `dir` with `images` under the ref name `tag`: a single
/// manifest when there is one image, else an index of all (platform linux/<arch>).
/// Returns the digest of what the tag names.
pub fn write_oci_layout(dir: &Path, tag: &str, images: &[LayoutImage<'_>]) -> String {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut manifests = Vec::new();
    for img in images {
        let config = serde_json::json!({"architecture": img.arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})
            .to_string()
            .into_bytes();
        let config_digest = layout_blob(dir, &config);
        let layers: Vec<serde_json::Value> = img
            .layers
            .iter()
            .map(|(data, mt)| serde_json::json!({"mediaType": mt, "digest": layout_blob(dir, data), "size": data.len()}))
            .collect();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": layers,
        })
        .to_string()
        .into_bytes();
        let digest = layout_blob(dir, &manifest);
        manifests.push(serde_json::json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": manifest.len(), "platform": {"os": "linux", "architecture": img.arch}}));
    }
    let (top, top_mt, top_size) = if manifests.len() == 1 {
        let m = &manifests[0];
        (
            m["digest"].as_str().unwrap().to_string(),
            OCI_MANIFEST,
            m["size"].as_u64().unwrap(),
        )
    } else {
        let index =
            serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
                .to_string()
                .into_bytes();
        let len = index.len() as u64;
        (layout_blob(dir, &index), OCI_INDEX, len)
    };
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": top_mt, "digest": top, "size": top_size,
        "annotations": {"org.opencontainers.image.ref.name": tag}}]});
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    top
}

/// Runs skopeo with `args`; panics with its output on failure; returns stdout.
pub fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo").args(args).output().expect(
        "skopeo not found: install the Debian package `skopeo` (scripts/test: ensure_skopeo)",
    );
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One HTTP/1.1 request written verbatim (the path is not normalised), connection closed
/// afterwards. Returns (status, headers lower-cased, body).
pub fn raw_http(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.set_nodelay(true).unwrap();
    let mut all = req.into_bytes();
    all.extend_from_slice(body);
    s.write_all(&all).unwrap();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no HTTP response head");
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let hdrs = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, hdrs, resp[split + 4..].to_vec())
}

// ---------------------------------------------------------------------------
// Large random images, streamed to disk (the large-upload test and `benches/registry.rs`)

/// A layer blob written by [`random_layer`].
#[derive(Debug, Clone)]
pub struct RandomBlob {
    pub digest: String,
    pub size: u64,
}

/// Counts and hashes what passes through to `inner`.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Largest file inside a random layer.
const RANDOM_FILE: u64 = 8 << 20;

/// Writes a layer of `bytes` random (incompressible) bytes to `path`: a tar of files of at
/// most 8 MiB under `<dir>/` (give each layer of an image its own, or upper layers hide lower
/// ones when flattened), gzip-wrapped with stored (level 0) blocks. Gzip, so skopeo sees
/// a compressed layer and copies it as is instead of compressing it on push; stored, so
/// writing it costs no compression. Streamed from `/dev/urandom`: never more than a buffer
/// in memory. Returns the blob's digest and size.
pub fn random_layer(path: &Path, bytes: u64, dir: &str) -> RandomBlob {
    use std::io::{BufReader, BufWriter, Read};
    let file = std::fs::File::create(path).unwrap();
    let hashing = HashingWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        size: 0,
    };
    let gz = GzEncoder::new(hashing, Compression::none());
    let mut tar = tar::Builder::new(gz);
    let mut urandom =
        BufReader::with_capacity(1 << 20, std::fs::File::open("/dev/urandom").unwrap());
    let (mut left, mut i) = (bytes, 0u32);
    while left > 0 {
        let n = left.min(RANDOM_FILE);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_size(n);
        tar.append_data(&mut h, format!("{dir}/f{i:05}"), (&mut urandom).take(n))
            .unwrap();
        left -= n;
        i += 1;
    }
    let hashing = tar.into_inner().unwrap().finish().unwrap();
    let HashingWriter {
        mut inner,
        hasher,
        size,
    } = hashing;
    inner.flush().unwrap();
    RandomBlob {
        digest: format!("sha256:{}", hex::encode(hasher.finalize())),
        size,
    }
}

/// An image written by [`write_random_layout`].
#[derive(Debug, Clone)]
pub struct RandomImage {
    pub manifest_digest: String,
    pub config_digest: String,
    pub layers: Vec<RandomBlob>,
}

/// Writes an OCI image layout at `dir` holding one linux/amd64 image under `tag` whose layers
/// are [`random_layer`]s of `layer_bytes` each (payload bytes; the blobs are a little larger).
pub fn write_random_layout(dir: &Path, tag: &str, layer_bytes: &[u64]) -> RandomImage {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut layers = Vec::new();
    for (i, bytes) in layer_bytes.iter().enumerate() {
        let tmp = blobs.join(format!(".layer-{i}.tmp"));
        let blob = random_layer(&tmp, *bytes, &format!("layer{i}"));
        std::fs::rename(&tmp, blobs.join(&blob.digest["sha256:".len()..])).unwrap();
        layers.push(blob);
    }
    let config = serde_json::json!({"architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": []}})
    .to_string()
    .into_bytes();
    let config_digest = layout_blob(dir, &config);
    let descs: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| serde_json::json!({"mediaType": GZ_LAYER, "digest": l.digest, "size": l.size}))
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": descs,
    })
    .to_string()
    .into_bytes();
    let manifest_digest = layout_blob(dir, &manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]});
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    RandomImage {
        manifest_digest,
        config_digest,
        layers,
    }
}

/// SHA-256 (`sha256:<hex>`) of a file, streamed.
pub fn file_digest(path: &Path) -> String {
    use std::io::Read;
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// Bytes free for unprivileged users on the filesystem holding `dir` (`df`), if known.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let out = Command::new("df")
        .args(["-P", "-B1"])
        .arg(dir)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}
