//! The scratch images (issue 14): `scripts/images --push` builds every image with buildah and
//! pushes it; each image holds exactly its static binary, which runs with an empty environment
//! in an otherwise empty root.

use std::collections::BTreeMap;
use std::io::Read;

use mkube::registry::{self, RegistryOptions};
use serde_json::Value;

use crate::images_support::{IMAGES, elf_is_static, run_in_root, script};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

async fn get(http: &reqwest::Client, url: &str) -> reqwest::Response {
    let resp = http
        .get(url)
        .header(
            "accept",
            format!("{OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "GET {url}");
    resp
}

#[actix_rt::test]
async fn images_build_push_and_run_static_in_an_empty_root() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = registry::start(RegistryOptions::new(tmp.path().join("store")))
        .await
        .unwrap();
    let out = script(&["--push", &reg.host()]);
    let printed: BTreeMap<String, Vec<String>> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<String> = l.split_whitespace().map(String::from).collect();
            (f[0].clone(), f)
        })
        .collect();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = reg.base_url();
    for (name, program, args) in IMAGES {
        let line = printed
            .get(name)
            .unwrap_or_else(|| panic!("{name} not built: {printed:?}"));
        assert_eq!(line[1], format!("{}/{name}:edge", reg.host()));

        // The tag the script pushed resolves to the digest it printed.
        let resp = get(&http, &format!("{base}/v2/{name}/manifests/edge")).await;
        let digest = resp.headers()["docker-content-digest"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(digest, line[2], "{name}");
        let manifest: Value = resp.json().await.unwrap();
        let config: Value = get(
            &http,
            &format!(
                "{base}/v2/{name}/blobs/{}",
                manifest["config"]["digest"].as_str().unwrap()
            ),
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(config["architecture"], "amd64");
        assert_eq!(
            config["config"]["Entrypoint"][0],
            format!("/{program}"),
            "{name}"
        );

        // One layer holding exactly the program.
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1, "{name}: {manifest}");
        let blob = get(
            &http,
            &format!(
                "{base}/v2/{name}/blobs/{}",
                layers[0]["digest"].as_str().unwrap()
            ),
        )
        .await
        .bytes()
        .await
        .unwrap();
        let root = tmp.path().join(format!("root-{name}"));
        std::fs::create_dir(&root).unwrap();
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&blob[..])
            .read_to_end(&mut plain)
            .unwrap();
        tar::Archive::new(&plain[..]).unpack(&root).unwrap();
        let entries: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            entries,
            vec![program.to_string()],
            "{name}: the image holds only its binary"
        );

        let binary = std::fs::read(root.join(program)).unwrap();
        elf_is_static(&binary).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ran = run_in_root(&root, program, args);
        assert!(
            ran.status.success() && !ran.stdout.is_empty(),
            "{name}: /{program} {args:?} in an empty root: {ran:?}"
        );
    }
    reg.stop().await;
}

#[test]
fn images_script_refuses_bad_arguments() {
    for args in [&["--bogus"][..], &["--only", "nope"][..]] {
        let out = std::process::Command::new("bash")
            .arg(crate::images_support::repo().join("scripts/images"))
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("unknown"), "{args:?}: {err}");
    }
}
