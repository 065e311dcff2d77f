//! `routeros-sim --run-containers` (issue 14): containers run their images as real processes,
//! isolated as on a device, on loopback addresses. Images come from `scripts/images`
//! (docker-save archives, imported with `file=`) and from the probe fixture.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use mkube::sim::routeros::SimOptions;
use serde_json::{Value, json};

use crate::images_support::{archives, probe_archive};
use crate::registry_support::skopeo;
use crate::sim_common::{Sim, flag, start_with};

/// A loopback address of its own per test (and per process), with `ports` free on it.
fn address(tag: u8, ports: &[u16]) -> Ipv4Addr {
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
    for i in 0..50u64 {
        let n = seed.wrapping_add(i * 7919);
        let ip = Ipv4Addr::new(
            127,
            90 + tag,
            (n % 250) as u8 + 2,
            (n / 250 % 250) as u8 + 2,
        );
        if ports
            .iter()
            .all(|p| TcpListener::bind(SocketAddr::from((ip, *p))).is_ok())
        {
            return ip;
        }
    }
    panic!("no free loopback address");
}

async fn sim() -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SimOptions::new(dir.path().join("disk"));
    opts.run_containers = true;
    let sim = start_with(opts, dir).await;
    std::fs::create_dir_all(sim.disk().join("raid1/cache")).unwrap();
    sim
}

/// Copies `archive` onto the simulated disk as `raid1/cache/<file name>`; returns its path.
fn stage(sim: &Sim, archive: &Path) -> String {
    let name = archive.file_name().unwrap().to_string_lossy();
    std::fs::copy(archive, sim.disk().join("raid1/cache").join(&*name)).unwrap();
    format!("raid1/cache/{name}")
}

/// A veth with `ip`, and the container `name` made from `file` with `props`, waited into S.
async fn add(sim: &Sim, name: &str, ip: Ipv4Addr, file: &str, props: Value) {
    let veth = format!("veth-{name}");
    let (s, v) = sim
        .rest(
            "PUT",
            "/interface/veth",
            Some(json!({"name": veth, "address": format!("{ip}/24"), "gateway": "127.0.0.1"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let mut body = json!({"name": name, "file": file, "interface": veth,
        "root-dir": format!("raid1/images/{name}"), "logging": "yes"});
    body.as_object_mut()
        .unwrap()
        .extend(props.as_object().unwrap().clone());
    let (s, v) = sim.rest("PUT", "/container", Some(body)).await;
    assert_eq!(s, 200, "{v}");
    sim.wait_flag(name, "stopped").await;
}

async fn mount(sim: &Sim, list: &str, src: &str, dst: &str) {
    let (s, v) = sim
        .rest(
            "PUT",
            "/container/mounts",
            Some(json!({"list": list, "src": src, "dst": dst})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

async fn start(sim: &Sim, name: &str) -> Value {
    sim.ok("/container/start", json!({"numbers": name})).await;
    sim.wait_flag(name, "running").await
}

/// Polls `pred` for up to 10 s.
async fn eventually(what: &str, mut pred: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pred().await {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn answers(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

async fn get(url: &str) -> Option<(u16, String)> {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let resp = http
        .get(url)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.text().await.unwrap_or_default()))
}

async fn log_has(sim: &Sim, topics: &str, message: &str) -> bool {
    sim.logs().await.iter().any(|r| {
        r["topics"].as_str() == Some(topics)
            && r["message"].as_str().is_some_and(|m| m.contains(message))
    })
}

fn comment(row: &Value) -> &str {
    row.get("comment").and_then(|c| c.as_str()).unwrap_or("")
}

#[actix_rt::test]
async fn sim_process_registry_serves_stores_logs_stops_and_crashes() {
    let archives = archives();
    let sim = sim().await;
    let ip = address(0, &[5000, 5001]);
    let file = stage(&sim, &archives.join("mkube-registry.tar"));
    mount(&sim, "reg.data", "/raid1/registry", "/raid1/registry").await;
    let cmd = format!("--listen {ip}:5000 --mgmt-listen {ip}:5001 --store /raid1/registry");
    add(
        &sim,
        "registry",
        ip,
        &file,
        json!({"mountlists": "reg.data", "cmd": cmd}),
    )
    .await;
    start(&sim, "registry").await;

    // It serves /v2/ on the container's address, and its output is in /log under its name.
    let base = format!("http://{ip}:5000");
    let mut v2 = None;
    eventually("registry answers /v2/", async || {
        v2 = get(&format!("{base}/v2/")).await;
        v2.is_some()
    })
    .await;
    assert_eq!(v2.unwrap(), (200, "{}".to_string()));
    assert!(log_has(&sim, "container,info", "registry: {").await);
    assert!(log_has(&sim, "container,info", "container registry: started").await);

    // A skopeo push into it lands in the mounted volume on the simulated disk.
    let src = format!(
        "docker-archive:{}",
        archives.join("microdns-sim.tar").display()
    );
    let dst = format!("docker://{ip}:5000/pushed/app:1");
    skopeo(&["copy", "--dest-tls-verify=false", &src, &dst]);
    let volume = sim.disk().join("raid1/registry");
    let tag = std::fs::read_to_string(volume.join("repos/pushed/app/tags/1")).unwrap();
    assert!(tag.starts_with("sha256:"), "{tag}");
    let hex = tag.trim().trim_start_matches("sha256:");
    assert!(volume.join("blobs/sha256").join(hex).exists());
    assert!(
        !sim.disk()
            .join("raid1/images/registry/raid1/registry/repos")
            .exists()
    );

    // Stop: SIGTERM, the process exits, the port closes, the row is S with no comment.
    sim.ok("/container/stop", json!({"numbers": "registry"}))
        .await;
    let row = sim.wait_flag("registry", "stopped").await;
    assert_eq!(comment(&row), "");
    assert!(
        !answers(SocketAddr::from((ip, 5000))),
        "port still open after stop"
    );
    assert!(log_has(&sim, "container,info", "container registry: stopped").await);

    // Crash knob: the process is killed; /log and the row show the exit.
    start(&sim, "registry").await;
    eventually("registry answers again", async || {
        get(&format!("{base}/v2/")).await.is_some()
    })
    .await;
    sim.control("POST", "/containers/registry/crash", None)
        .await;
    let row = sim
        .wait_for("registry", "crashed", |r| {
            r.is_some_and(|r| flag(r, "stopped"))
        })
        .await
        .unwrap();
    assert_eq!(comment(&row), "exited with status 137");
    assert!(
        log_has(
            &sim,
            "container,info",
            "container registry: exited with status 137"
        )
        .await
    );
    assert!(!answers(SocketAddr::from((ip, 5000))));
    sim.stop().await;
}

#[actix_rt::test]
async fn sim_process_reboot_brings_back_start_on_boot_containers() {
    let archives = archives();
    let sim = sim().await;
    let file = stage(&sim, &archives.join("microdns-sim.tar"));
    let (a, b) = (address(1, &[8080]), address(2, &[8080]));
    for (name, ip, boot) in [("dns_a", a, "yes"), ("dns_b", b, "no")] {
        let cmd = format!("--listen {ip}:8080");
        add(
            &sim,
            name,
            ip,
            &file,
            json!({"cmd": cmd, "start-on-boot": boot}),
        )
        .await;
        start(&sim, name).await;
        eventually("microdns-sim answers", async || {
            answers(SocketAddr::from((ip, 8080)))
        })
        .await;
    }
    sim.control("POST", "/reboot", Some(json!({"downSeconds": 1})))
        .await;
    // The device drops requests while it is down.
    eventually("the device is back", async || {
        sim.http
            .get(format!("{}/system/resource", sim.sim.rest_url()))
            .basic_auth("admin", Some(""))
            .send()
            .await
            .is_ok()
    })
    .await;
    // The start-on-boot container runs again (a new process); the other stays stopped.
    eventually("dns_a restarted", async || {
        sim.logs()
            .await
            .iter()
            .filter(|r| r["message"] == "container dns_a: started")
            .count()
            == 2
    })
    .await;
    sim.wait_flag("dns_a", "running").await;
    eventually("dns_a answers", async || {
        answers(SocketAddr::from((a, 8080)))
    })
    .await;
    let row = sim.container("dns_b").await.unwrap();
    assert!(flag(&row, "stopped"), "{row}");
    eventually("dns_b closed", async || {
        !answers(SocketAddr::from((b, 8080)))
    })
    .await;
    sim.stop().await;
    // Stopping the simulator ends its processes.
    assert!(!answers(SocketAddr::from((a, 8080))));
}

#[actix_rt::test]
async fn sim_process_recreated_container_runs_the_new_binary_only_on_a_fresh_root_dir() {
    let archives = archives();
    let sim = sim().await;
    let ip = address(3, &[5000, 5001]);
    let old = stage(&sim, &archives.join("microdns-sim.tar"));
    let new = stage(&sim, &archives.join("mkube-registry.tar"));
    let registry_cmd = format!("--listen {ip}:5000 --mgmt-listen {ip}:5001 --store /store");
    add(
        &sim,
        "app",
        ip,
        &old,
        json!({"cmd": format!("--listen {ip}:5000")}),
    )
    .await;
    start(&sim, "app").await;
    eventually("the old binary answers", async || {
        get(&format!("http://{ip}:5000/api/v1/zones"))
            .await
            .is_some()
    })
    .await;
    let remove = async |sim: &Sim| {
        sim.ok("/container/stop", json!({"numbers": "app"})).await;
        sim.wait_flag("app", "stopped").await;
        sim.ok("/container/remove", json!({"numbers": "app"})).await;
        sim.wait_gone("app").await;
    };
    remove(&sim).await;

    // Recreated over its old root-dir (7.22 reuses it): the old binary runs, and refuses the
    // new image's command line — the seed's lesson, reproduced with a real process.
    let (s, v) = sim
        .rest(
            "PUT",
            "/container",
            Some(json!({"name": "app", "file": new, "interface": "veth-app",
                "root-dir": "raid1/images/app", "logging": "yes", "cmd": registry_cmd})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    sim.wait_flag("app", "stopped").await;
    sim.ok("/container/start", json!({"numbers": "app"})).await;
    let row = sim
        .wait_for("app", "old binary exits", |r| {
            r.is_some_and(|r| comment(r).starts_with("exited with status"))
        })
        .await
        .unwrap();
    assert_eq!(comment(&row), "exited with status 2", "clap's usage error");
    assert!(
        log_has(
            &sim,
            "container,info",
            "app: error: unexpected argument '--mgmt-listen'"
        )
        .await
    );
    remove(&sim).await;

    // Moved aside first (what mkube does, §3.4): a fresh root-dir, the new binary.
    sim.ok(
        "/file/set",
        json!({"numbers": "raid1/images/app", "name": "raid1/images/app.trash-1"}),
    )
    .await;
    let (s, v) = sim
        .rest(
            "PUT",
            "/container",
            Some(json!({"name": "app", "file": new, "interface": "veth-app",
                "root-dir": "raid1/images/app", "logging": "yes", "cmd": registry_cmd})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    sim.wait_flag("app", "stopped").await;
    start(&sim, "app").await;
    let mut v2 = None;
    eventually("the new binary answers /v2/", async || {
        v2 = get(&format!("http://{ip}:5000/v2/")).await;
        v2.is_some()
    })
    .await;
    assert_eq!(v2.unwrap().0, 200);
    let root = sim.disk().join("raid1/images/app");
    assert!(root.join("mkube-registry").exists() && !root.join("microdns-sim").exists());
    sim.stop().await;
}

#[actix_rt::test]
async fn sim_process_isolation_env_workdir_user_hostname_and_binds() {
    let probe = probe_archive();
    let sim = sim().await;
    let file = stage(&sim, &probe);
    let ip = address(4, &[]);
    // The probe runs as uid 1234: its volume must let it write.
    let volume = sim.disk().join("raid1/volumes/p/data");
    std::fs::create_dir_all(&volume).unwrap();
    std::fs::set_permissions(&volume, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    mount(&sim, "p.data", "/raid1/volumes/p/data", "/data").await;
    for (k, v) in [("SHARED", "list"), ("FROM_LIST", "1")] {
        let (s, r) = sim
            .rest(
                "PUT",
                "/container/envs",
                Some(json!({"list": "p.env", "key": k, "value": v})),
            )
            .await;
        assert_eq!(s, 200, "{r}");
    }
    add(
        &sim,
        "p",
        ip,
        &file,
        json!({"mountlists": "p.data", "envlists": "p.env", "hostname": "probe-host",
            "user": "app", "workdir": "/work/sub", "cmd": "\"two words\" stay"}),
    )
    .await;
    start(&sim, "p").await;
    let report_path = volume.join("report.txt");
    eventually("the probe reports", async || report_path.exists()).await;
    let report = std::fs::read_to_string(&report_path).unwrap();
    let line = |k: &str| {
        report
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(line("argv"), "/probe two words stay");
    assert_eq!(
        line("ids"),
        "1234:1234",
        "user app from the image's /etc/passwd"
    );
    assert_eq!(line("cwd"), "/work/sub");
    assert_eq!(line("host"), "probe-host");
    assert_eq!(
        line("env"),
        "FROM_IMAGE=yes;FROM_LIST=1;PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin;SHARED=list"
    );
    assert_eq!(line("root"), "data,etc,probe,work", "root-dir is /");
    assert_eq!(line("proc"), "false");
    // The output goes to /log under the container's name; the bind did not reach the host.
    eventually("the probe's output in /log", async || {
        log_has(&sim, "container,info", "p: host=probe-host").await
    })
    .await;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&*sim.disk().to_string_lossy()),
        "bind leaked to the host"
    );
    sim.stop().await;
}

#[actix_rt::test]
async fn sim_process_exit_codes_start_failures_and_stop_grace() {
    let probe = probe_archive();
    let sim = sim().await;
    let file = stage(&sim, &probe);
    let ip = address(5, &[]);
    // An exit stops the container with its status.
    add(&sim, "quits", ip, &file, json!({"cmd": "exit=7"})).await;
    sim.ok("/container/start", json!({"numbers": "quits"}))
        .await;
    let row = sim
        .wait_for("quits", "exit", |r| {
            r.is_some_and(|r| !comment(r).is_empty())
        })
        .await
        .unwrap();
    assert!(flag(&row, "stopped"));
    assert_eq!(comment(&row), "exited with status 7");

    // A missing program: S with the device's message, in the row and in /log.
    add(&sim, "missing", ip, &file, json!({"entrypoint": "/nope"})).await;
    sim.ok("/container/start", json!({"numbers": "missing"}))
        .await;
    let row = sim
        .wait_for("missing", "start failure", |r| {
            r.is_some_and(|r| !comment(r).is_empty())
        })
        .await
        .unwrap();
    assert_eq!(comment(&row), "execvpe /nope: No such file or directory");
    assert!(log_has(&sim, "container,error", "container missing: execvpe /nope").await);

    // A veth address outside 127.0.0.0/8 is refused: processes only bind loopback here.
    let (s, v) = sim
        .rest(
            "PUT",
            "/interface/veth",
            Some(json!({"name": "veth-lan", "address": "192.168.200.9/24"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = sim
        .rest(
            "PUT",
            "/container",
            Some(json!({"name": "lan", "file": file, "interface": "veth-lan",
                "root-dir": "raid1/images/lan"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    sim.wait_flag("lan", "stopped").await;
    sim.ok("/container/start", json!({"numbers": "lan"})).await;
    let row = sim
        .wait_for("lan", "start refused", |r| {
            r.is_some_and(|r| !comment(r).is_empty())
        })
        .await
        .unwrap();
    assert!(flag(&row, "stopped"));
    assert!(
        comment(&row).contains("192.168.200.9 is outside 127.0.0.0/8"),
        "{row}"
    );

    // A process ignoring SIGTERM is killed once stop-time has passed.
    add(
        &sim,
        "stubborn",
        ip,
        &file,
        json!({"cmd": "stay ignore-term", "stop-time": "2s"}),
    )
    .await;
    start(&sim, "stubborn").await;
    eventually("stubborn reported", async || {
        log_has(&sim, "container,info", "stubborn: argv=").await
    })
    .await;
    sim.ok("/container/stop", json!({"numbers": "stubborn"}))
        .await;
    let row = sim.container("stubborn").await.unwrap();
    assert!(flag(&row, "stopping"), "SIGTERM is ignored: {row}");
    let row = sim.wait_flag("stubborn", "stopped").await;
    assert_eq!(comment(&row), "");
    sim.stop().await;
}

/// Without the privileges for namespaces the simulator refuses `--run-containers` at start.
#[test]
fn sim_process_refused_where_namespaces_are_not_allowed() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), PermissionsExt::from_mode(0o755)).unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    std::fs::set_permissions(&disk, PermissionsExt::from_mode(0o777)).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_routeros-sim"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--run-containers",
            "--disk-root",
        ])
        .arg(&disk)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot run containers") && err.contains("namespaces"),
        "{err}"
    );
}
