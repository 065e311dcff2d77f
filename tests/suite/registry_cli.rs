//! The `mkube-registry` binary (spec images.md §2.1): `--config` YAML plus flag overrides,
//! management `GET /healthz`, graceful exit on SIGTERM.

use crate::registry_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use registry_support::{free_port, http_client};

#[tokio::test]
async fn binary_serves_config_and_flags_and_stops_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let (port, mgmt) = (free_port(), free_port());
    let cfg = tmp.path().join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listenAddr: 127.0.0.1:{port}\nstorePath: {}\ntlsCertFile: {}\nwatchPollSeconds: 10\n",
            tmp.path().join("ignored").display(),
            tmp.path().join("absent.crt").display()
        ),
    )
    .unwrap();
    let store = tmp.path().join("store");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mkube-registry"))
        .arg("--config")
        .arg(&cfg)
        .arg("--store")
        .arg(&store)
        .arg("--mgmt-listen")
        .arg(format!("127.0.0.1:{mgmt}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let c = http_client();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(r) = c.get(format!("http://127.0.0.1:{port}/v2/")).send().await {
            assert_eq!(r.status(), 200);
            assert_eq!(
                r.headers()["docker-distribution-api-version"],
                "registry/2.0"
            );
            break;
        }
        assert!(Instant::now() < deadline, "registry did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = c
        .get(format!("http://127.0.0.1:{mgmt}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "ok");
    assert!(
        store.join("blobs/sha256").is_dir(),
        "--store overrides storePath"
    );
    assert!(!tmp.path().join("ignored").exists());
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    let mut out = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        out.contains("plain HTTP only"),
        "warning about the missing certificate: {out}"
    );
}
