//! The image cache against a real registry (Debian's docker-registry on loopback), images.md
//! §7.5: tarball layout and whiteouts (1), alias rewrite (2), restart adoption and registry
//! outage (3), invalidation by repository and tag (4), and one pull per reference.

use crate::common;
use crate::registry_support;

use common::{NatsServer, cluster};
use mkube::actors::images::state::ImagesState;
use mkube::actors::images::{
    ClearImage, EnsureImage, EnsuredImage, ImageError, PullCount, PushNotify, RefreshImage,
};
use mkube::actors::journal::testing::Inspect;
use mkube::actors::wiring::Cluster;
use mkube::config::{Config, PersistentMount};
use registry_support::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

const ALIAS: &str = "registry.alias.invalid:5000";

fn config(nats: &NatsServer, reg: &RegistryProc, cache: &Path) -> Config {
    let mut cfg = cluster::config(&nats.url());
    cfg.storage.tarball_cache = cache.display().to_string();
    cfg.storage.persistent_mounts = vec![PersistentMount {
        container_path: cache.display().to_string(),
        host_path: "raid1/cache".into(),
    }];
    cfg.registry.local_addresses = vec![reg.host(), ALIAS.into()];
    cfg
}

/// Pushes a single-platform arm64 image with a run config under `repo:tag`; returns its digest.
async fn push_tagged(
    reg: &RegistryProc,
    repo: &str,
    tag: &str,
    layers: &[(Vec<u8>, &str)],
) -> String {
    let client = http_client();
    let base = reg.base();
    let config = serde_json::json!({
        "architecture": "arm64",
        "os": "linux",
        "config": {"Entrypoint": ["/bin/tool"], "Cmd": ["run"], "Env": ["A=1"], "WorkingDir": "/opt", "User": "nobody", "Labels": {"x": "y"}},
        "rootfs": {"type": "layers", "diff_ids": []}
    })
    .to_string()
    .into_bytes();
    let config_digest = push_blob(&client, &base, repo, &config).await;
    let mut descs = Vec::new();
    for (data, media_type) in layers {
        let digest = push_blob(&client, &base, repo, data).await;
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
    push_manifest(&client, &base, repo, tag, OCI_MANIFEST, &manifest).await
}

async fn push_simple(reg: &RegistryProc, repo: &str, tag: &str, content: &str) -> String {
    let l = gzip(&layer(&[E::Dir("etc"), E::File("etc/version", content)]));
    push_tagged(reg, repo, tag, &[(l, GZ_LAYER)]).await
}

async fn ensure(c: &Cluster, reference: &str) -> Result<EnsuredImage, ImageError> {
    c.images
        .send(EnsureImage {
            reference: reference.into(),
            correlation: "test".into(),
        })
        .await
        .expect("images actor")
}

async fn pulls(c: &Cluster) -> u64 {
    c.images.send(PullCount).await.unwrap()
}

async fn state(c: &Cluster) -> ImagesState {
    c.images.send(Inspect::<ImagesState>::new()).await.unwrap()
}

async fn push_notify(c: &Cluster, image: &str) {
    c.images
        .send(PushNotify {
            image: image.into(),
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap();
}

/// Every entry of a tar file: name → (type, mode, data or link target).
fn entries(data: &[u8]) -> Vec<(String, tar::EntryType, u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(data);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let kind = e.header().entry_type();
        let mode = e.header().mode().unwrap();
        let mut body = Vec::new();
        if let Some(link) = e.link_name().unwrap() {
            body = link.to_string_lossy().as_bytes().to_vec();
        } else {
            e.read_to_end(&mut body).unwrap();
        }
        out.push((name.trim_end_matches('/').to_string(), kind, mode, body));
    }
    out
}

fn hex256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

// §7.5 item 1: three layers with a file deletion, an opaque directory, a symlink and a hard
// link; the docker-save layout, names = sha256 of the stored bytes, and the flattened tree.
#[actix_rt::test]
async fn tarball_is_docker_save_with_one_flattened_layer() {
    let nats = NatsServer::start();
    let reg = start_registry(None).await;
    let dir = tempfile::tempdir().unwrap();
    let l1 = gzip(&layer(&[
        E::Dir("etc"),
        E::File("etc/keep", "k"),
        E::File("etc/gone", "g"),
        E::Dir("opt"),
        E::File("opt/a", "a"),
        E::Dir("opt/sub"),
        E::File("opt/sub/b", "b"),
        E::Dir("var"),
        E::File("var/log", "l"),
        E::Dir("bin"),
        E::Exec("bin/tool", "v1"),
    ]));
    let l2 = layer(&[
        E::File("etc/.wh.gone", ""),
        E::File("opt/.wh..wh..opq", ""),
        E::File("opt/new", "n"),
        E::Link("etc/link", "keep"),
        E::Hard("etc/hard", "etc/keep"),
    ]);
    let l3 = gzip(&layer(&[E::File(".wh.var", ""), E::Exec("bin/tool", "v2")]));
    let digest = push_tagged(
        &reg,
        "team/app",
        "v1",
        &[(l1, GZ_LAYER), (l2, TAR_LAYER), (l3, GZ_LAYER)],
    )
    .await;

    let cfg = config(&nats, &reg, dir.path());
    let c = cluster::boot(&cfg).await;
    let img = ensure(&c, &format!("{}/team/app:v1", reg.host()))
        .await
        .unwrap();
    assert!(img.pulled);
    assert_eq!(img.digest, digest);
    assert!(
        img.tarball_path.starts_with("raid1/cache/"),
        "{}",
        img.tarball_path
    );
    assert!(img.tarball_path.ends_with(".tar"));
    let data = std::fs::read(&img.local_path).unwrap();
    assert_eq!(data.len() as u64, img.size);
    let sidecar = std::fs::read_to_string(format!("{}.digest", img.local_path)).unwrap();
    assert_eq!(sidecar, format!("{digest}\n{}\n", img.size));

    let outer = entries(&data);
    for (name, kind, mode, _) in &outer {
        assert_eq!(*kind, tar::EntryType::Regular, "{name}");
        assert_eq!(*mode, 0o644, "{name}");
    }
    let names: Vec<&str> = outer.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names.len(), 6, "{names:?}");
    let (cfg_name, layer_dir) = (names[2], names[3].split('/').next().unwrap());
    assert_eq!(names[0], "manifest.json");
    assert_eq!(names[1], "repositories");
    assert_eq!(names[3], format!("{layer_dir}/VERSION"));
    assert_eq!(names[4], format!("{layer_dir}/json"));
    assert_eq!(names[5], format!("{layer_dir}/layer.tar"));
    let body = |i: usize| &outer[i].3;
    assert_eq!(hex256(body(5)), layer_dir, "<L> is the layer's sha256");
    assert_eq!(
        format!("{}.json", hex256(body(2))),
        cfg_name,
        "<cfghex> is the config's sha256"
    );
    assert_eq!(body(3).as_slice(), b"1.0");

    let manifest: serde_json::Value = serde_json::from_slice(body(0)).unwrap();
    assert_eq!(
        manifest,
        serde_json::json!([{"Config": cfg_name, "RepoTags": ["team/app:v1"], "Layers": [format!("{layer_dir}/layer.tar")]}])
    );
    let repos: serde_json::Value = serde_json::from_slice(body(1)).unwrap();
    assert_eq!(repos, serde_json::json!({"team/app": {"v1": layer_dir}}));
    let run = serde_json::json!({"Entrypoint": ["/bin/tool"], "Cmd": ["run"], "WorkingDir": "/opt", "Env": ["A=1"]});
    let config: serde_json::Value = serde_json::from_slice(body(2)).unwrap();
    assert_eq!(
        config,
        serde_json::json!({"architecture": "arm64", "os": "linux", "config": run, "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_dir}")]}})
    );
    let json: serde_json::Value = serde_json::from_slice(body(4)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"id": layer_dir, "created": "1970-01-01T00:00:00Z", "config": run})
    );

    // The flattened tree: upper layers win, whiteouts and the opaque dir applied.
    let flat: BTreeMap<String, (tar::EntryType, u32, Vec<u8>)> = entries(body(5))
        .into_iter()
        .map(|(n, k, m, b)| (n, (k, m, b)))
        .collect();
    let names: Vec<&str> = flat.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "bin", "bin/tool", "etc", "etc/hard", "etc/keep", "etc/link", "opt", "opt/new"
        ]
    );
    assert_eq!(
        flat["bin/tool"],
        (tar::EntryType::Regular, 0o755, b"v2".to_vec())
    );
    assert_eq!(
        flat["etc/keep"],
        (tar::EntryType::Regular, 0o644, b"k".to_vec())
    );
    assert_eq!(flat["etc/link"].0, tar::EntryType::Symlink);
    assert_eq!(flat["etc/link"].2, b"keep");
    assert_eq!(flat["etc/hard"].0, tar::EntryType::Link);
    assert_eq!(flat["etc/hard"].2, b"etc/keep");
    assert_eq!(flat["opt/new"].2, b"n");
    assert_eq!(flat["etc"].0, tar::EntryType::Directory);
    // Parents come before their children.
    let order: Vec<String> = entries(body(5)).into_iter().map(|e| e.0).collect();
    let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
    assert!(pos("etc") < pos("etc/keep") && pos("etc/keep") < pos("etc/hard"));

    // The fact is in the cache state (and so in the log).
    let st = state(&c).await;
    let key = format!("{}/team/app:v1", reg.host());
    let entry = &st.entries[&key];
    assert_eq!(entry.digest, digest);
    let t = entry.tarball.as_ref().unwrap();
    assert_eq!(
        (t.path.as_str(), t.size),
        (img.tarball_path.as_str(), img.size)
    );
    // Nothing temporary is left in the cache directory.
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
}

// §7.5 item 2 (alias rewrite) and §3.5 "serialise per ref": one cache entry, one pull.
#[actix_rt::test]
async fn aliases_share_one_entry_and_concurrent_ensures_pull_once() {
    let nats = NatsServer::start();
    let reg = start_registry(None).await;
    let dir = tempfile::tempdir().unwrap();
    push_simple(&reg, "microdns", "edge", "1").await;
    push_simple(&reg, "x", "1", "x").await;
    let cfg = config(&nats, &reg, dir.path());
    let metrics = mkube::metrics::Metrics::new();
    let c = cluster::boot_with_metrics(&cfg, metrics.clone()).await;

    let primary = ensure(&c, &format!("{}/microdns:edge", reg.host()))
        .await
        .unwrap();
    let alias = ensure(&c, &format!("{ALIAS}/microdns:edge")).await.unwrap();
    assert_eq!(primary.local_path, alias.local_path);
    assert_eq!(alias.reference, format!("{}/microdns:edge", reg.host()));
    assert!(primary.pulled && !alias.pulled);
    let local = ensure(&c, "localhost/x:1").await.unwrap();
    assert_eq!(local.reference, format!("{}/x:1", reg.host()));
    assert_eq!(pulls(&c).await, 2);
    assert_eq!(state(&c).await.entries.len(), 2);

    // Five concurrent ensures of one new reference: one pull, one answer.
    push_simple(&reg, "microdns", "test", "2").await;
    let refs = [
        format!("{}/microdns:test", reg.host()),
        format!("{ALIAS}/microdns:test"),
        format!("{}/microdns:test", reg.host()),
        format!("{ALIAS}/microdns:test"),
        format!("{}/microdns:test", reg.host()),
    ];
    let all = futures::future::join_all(refs.iter().map(|r| ensure(&c, r))).await;
    let all: Vec<EnsuredImage> = all.into_iter().map(Result::unwrap).collect();
    assert!(all.windows(2).all(|w| w[0].local_path == w[1].local_path));
    assert_eq!(pulls(&c).await, 3);
    // `/metrics` counts the same three pulls, each with its tarball build.
    let text = metrics.render();
    for series in [
        r#"mkube_image_pulls_total{outcome="ok"}"#,
        r#"mkube_image_tarball_builds_total{outcome="ok"}"#,
        "mkube_image_tarball_build_seconds_count",
    ] {
        assert_eq!(common::series(&text, series), Some(3.0), "{series}: {text}");
    }
    let failed = r#"mkube_image_pulls_total{outcome="error"}"#;
    assert_eq!(common::series(&text, failed), Some(0.0), "{text}");
    let tars = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tar")
        })
        .count();
    assert_eq!(tars, 3);
}

// §7.5 item 3: a new boot adopts replayed state + sidecar without pulling; a truncated tarball
// or missing sidecar is pulled again; with the registry down the cached tarball is used.
#[actix_rt::test]
async fn restart_adopts_and_registry_outage_falls_back() {
    let nats = NatsServer::start();
    let reg = start_registry(None).await;
    let dir = tempfile::tempdir().unwrap();
    let digest = push_simple(&reg, "web", "v1", "1").await;
    push_simple(&reg, "web", "v2", "2").await;
    let cfg = config(&nats, &reg, dir.path());
    let web1 = format!("{}/web:v1", reg.host());
    let web2 = format!("{}/web:v2", reg.host());
    let first = {
        let c = cluster::boot(&cfg).await;
        let a = ensure(&c, &web1).await.unwrap();
        ensure(&c, &web2).await.unwrap();
        a
    };

    let c = cluster::boot(&cfg).await;
    assert_eq!(state(&c).await.entries[&web1].digest, digest, "replayed");
    let again = ensure(&c, &web1).await.unwrap();
    assert!(!again.pulled);
    assert_eq!(again.local_path, first.local_path);
    assert_eq!(pulls(&c).await, 0);

    // Truncated tarball → pulled again.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&first.local_path)
        .unwrap();
    f.set_len(first.size / 2).unwrap();
    drop(f);
    let repaired = ensure(&c, &web1).await.unwrap();
    assert!(repaired.pulled);
    assert_eq!(
        std::fs::metadata(&first.local_path).unwrap().len(),
        repaired.size
    );
    // Missing sidecar → pulled again.
    std::fs::remove_file(format!("{}.digest", first.local_path)).unwrap();
    assert!(ensure(&c, &web1).await.unwrap().pulled);
    assert_eq!(pulls(&c).await, 2);

    // Registry down: the cached tarball is used, in this boot and in a fresh one.
    drop(reg);
    let down = ensure(&c, &web1).await.unwrap();
    assert!(!down.pulled);
    assert_eq!(down.local_path, first.local_path);
    let c2 = cluster::boot(&cfg).await;
    let down2 = ensure(&c2, &web2).await.unwrap();
    assert!(!down2.pulled);
    let missing = ensure(&c2, &web1.replace("web:v1", "web:v3")).await;
    assert!(
        matches!(missing, Err(ImageError::Registry(_))),
        "{missing:?}"
    );
    // Refresh reports the outage instead of pretending nothing changed.
    let refreshed = c2
        .images
        .send(RefreshImage {
            reference: web1.clone(),
            correlation: "t".into(),
        })
        .await
        .unwrap();
    assert!(refreshed.is_err());
}

// §7.5 item 4 and §3.7: a push of `repo:tag` clears only that tag; a digest push clears every
// tag of the repo; ClearImage clears one reference, even through an alias.
#[actix_rt::test]
async fn push_clears_by_repo_and_tag_and_refresh_sees_new_digests() {
    let nats = NatsServer::start();
    let reg = start_registry(None).await;
    let dir = tempfile::tempdir().unwrap();
    push_simple(&reg, "microdns", "edge", "e").await;
    push_simple(&reg, "microdns", "test", "t").await;
    push_simple(&reg, "other", "edge", "o").await;
    let cfg = config(&nats, &reg, dir.path());
    let c = cluster::boot(&cfg).await;
    let h = reg.host();
    let edge = ensure(&c, &format!("{h}/microdns:edge")).await.unwrap();
    let test = ensure(&c, &format!("{h}/microdns:test")).await.unwrap();
    let other = ensure(&c, &format!("{h}/other:edge")).await.unwrap();

    push_notify(&c, "microdns:test").await;
    let st = state(&c).await;
    assert!(st.entries.contains_key(&edge.reference));
    assert!(!st.entries.contains_key(&test.reference));
    assert!(Path::new(&edge.local_path).exists());
    assert!(!Path::new(&test.local_path).exists());
    assert!(!Path::new(&format!("{}.digest", test.local_path)).exists());

    ensure(&c, &format!("{h}/microdns:test")).await.unwrap();
    push_notify(&c, &format!("microdns@sha256:{}", "a".repeat(64))).await;
    let st = state(&c).await;
    assert_eq!(st.entries.keys().collect::<Vec<_>>(), [&other.reference]);
    assert!(!Path::new(&edge.local_path).exists());

    c.images
        .send(ClearImage {
            reference: format!("{ALIAS}/other:edge"),
            correlation: "t".into(),
        })
        .await
        .unwrap()
        .unwrap();
    assert!(state(&c).await.entries.is_empty());
    assert!(!Path::new(&other.local_path).exists());

    // Refresh: unchanged digest → not changed; a new push under the tag → changed, new bytes.
    let refresh = |r: String| {
        c.images.send(RefreshImage {
            reference: r,
            correlation: "t".into(),
        })
    };
    let (first, changed) = refresh(format!("{h}/other:edge")).await.unwrap().unwrap();
    assert!(changed, "nothing was stored");
    let (same, changed) = refresh(format!("{h}/other:edge")).await.unwrap().unwrap();
    assert!(!changed);
    assert_eq!(same.digest, first.digest);
    let new = push_simple(&reg, "other", "edge", "o2").await;
    let (moved, changed) = refresh(format!("{h}/other:edge")).await.unwrap().unwrap();
    assert!(changed);
    assert_eq!(moved.digest, new);
    assert_eq!(state(&c).await.entries[&moved.reference].digest, new);
}

/// A directory tree as path → (kind, mode, content or link target).
fn tree(root: &Path) -> BTreeMap<String, (char, u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (char, u32, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.insert(rel, ('l', 0, t.to_string_lossy().as_bytes().to_vec()));
            } else if meta.is_dir() {
                out.insert(rel, ('d', mode, Vec::new()));
                walk(root, &p, out);
            } else {
                out.insert(rel, ('f', mode, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

// §7.5 item 1, differential: the RouterOS simulator extracting our one-layer tarball
// (`file=`) yields the same tree as the simulator pulling the multi-layer image itself
// (`remote-image=`, whiteouts applied layer by layer by an independent extractor).
#[actix_rt::test]
async fn flattened_tarball_extracts_like_the_layered_pull() {
    use mkube::sim::routeros::import::{PullOptions, extract_docker_archive, pull_remote_image};
    let nats = NatsServer::start();
    let reg = start_registry(None).await;
    let dir = tempfile::tempdir().unwrap();
    let l1 = gzip(&layer(&[
        E::Dir("usr"),
        E::Dir("usr/lib"),
        E::File("usr/lib/a.so", "a"),
        E::File("usr/lib/b.so", "b"),
        E::Dir("srv"),
        E::Dir("srv/data"),
        E::File("srv/data/x", "x"),
        E::File("replaced", "file"),
        E::Exec("run.sh", "#!/bin/sh\n"),
    ]));
    let l2 = layer(&[
        E::File("usr/lib/.wh.a.so", ""),
        E::Dir("srv"),
        E::File("srv/.wh..wh..opq", ""),
        E::File("srv/fresh", "f"),
        E::Dir("replaced"),
        E::File("replaced/inside", "i"),
        E::Link("usr/lib/c.so", "b.so"),
    ]);
    let l3 = gzip(&layer(&[
        E::Hard("usr/lib/d.so", "usr/lib/b.so"),
        E::File(".wh.run.sh", ""),
        E::Exec("run.sh", "#!/bin/sh\necho 2\n"),
    ]));
    push_tagged(
        &reg,
        "diff",
        "v1",
        &[(l1, GZ_LAYER), (l2, TAR_LAYER), (l3, GZ_LAYER)],
    )
    .await;
    let cfg = config(&nats, &reg, &dir.path().join("cache"));
    std::fs::create_dir_all(dir.path().join("cache")).unwrap();
    let c = cluster::boot(&cfg).await;
    let reference = format!("{}/diff:v1", reg.host());
    let img = ensure(&c, &reference).await.unwrap();

    let from_tarball = dir.path().join("a");
    let tarball = std::path::PathBuf::from(&img.local_path);
    let out = tokio::task::spawn_blocking({
        let root = from_tarball.clone();
        move || extract_docker_archive(&tarball, &root)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(out.layers, 1);
    let from_pull = dir.path().join("b");
    let opts = PullOptions {
        default_registry: reg.base(),
        ..PullOptions::default()
    };
    pull_remote_image(&reference, &from_pull, &opts)
        .await
        .unwrap();
    let (a, b) = (tree(&from_tarball), tree(&from_pull));
    assert_eq!(a, b);
    assert!(a.contains_key("replaced/inside") && !a.contains_key("usr/lib/a.so"));
    assert!(!a.contains_key("srv/data"));
    assert_eq!(a["usr/lib/d.so"].2, b"b");
}

/// images.md §3.12 / IMG-5 (fixed): `inUse` comes from the desired pods; among unused tarballs
/// the newest `gcKeepLastN` stay and older ones go (tarball, sidecar and cache entry); a dry
/// run removes nothing; an image a desired pod uses is never collected.
#[actix_rt::test]
async fn gc_removes_the_oldest_unused_tarballs_beyond_keep_last_n() {
    use mkube::actors::pods::Declare;
    use mkube::actors::reconcile::image_gc::{GcSchedule, collect_once};
    use mkube::events::catalogue::PodSource;

    let nats = NatsServer::start();
    let reg = start_registry(None).await;
    let dir = tempfile::tempdir().unwrap();
    for repo in ["a", "b", "c", "d"] {
        push_simple(&reg, repo, "1", repo).await;
    }
    let c = cluster::boot(&config(&nats, &reg, dir.path())).await;
    let h = reg.host();
    let mut built = Vec::new();
    for repo in ["a", "b", "c", "d"] {
        built.push(ensure(&c, &format!("{h}/{repo}:1")).await.unwrap());
        // Distinct pull times (RFC 3339 seconds).
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    // A desired pod uses `a` (the oldest) under the alias: it must stay.
    let mut pod = common::samples::pod("default", "uses-a");
    pod.spec.as_mut().unwrap().containers[0].image = Some(format!("{ALIAS}/a:1"));
    c.pods
        .send(Declare {
            pod,
            source: PodSource::Api,
            correlation: "t".into(),
        })
        .await
        .unwrap()
        .unwrap();

    let mut schedule = GcSchedule {
        interval: std::time::Duration::from_secs(60),
        keep_last_n: 1,
        dry_run: true,
    };
    let report = collect_once(&c.images, &c.pods, &c.pods_published, &schedule)
        .await
        .unwrap();
    assert_eq!(
        report.unused,
        [&built[1], &built[2], &built[3]].map(|b| b.reference.clone())
    );
    assert_eq!(
        report.removed,
        [&built[1], &built[2]].map(|b| b.reference.clone())
    );
    assert_eq!(
        state(&c).await.entries.len(),
        4,
        "a dry run removes nothing"
    );

    schedule.dry_run = false;
    collect_once(&c.images, &c.pods, &c.pods_published, &schedule)
        .await
        .unwrap();
    let st = state(&c).await;
    let kept: Vec<&String> = st.entries.keys().collect();
    assert_eq!(kept, [&built[0].reference, &built[3].reference]);
    for gone in &built[1..3] {
        assert!(!Path::new(&gone.local_path).exists());
        assert!(!Path::new(&format!("{}.digest", gone.local_path)).exists());
    }
    assert!(Path::new(&built[0].local_path).exists());
    // Nothing left to collect.
    let again = collect_once(&c.images, &c.pods, &c.pods_published, &schedule)
        .await
        .unwrap();
    assert!(again.removed.is_empty());
}
