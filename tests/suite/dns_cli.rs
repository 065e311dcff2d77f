//! `mkube dns backup` (R16) and `mkube dns import` run as the built binary against the
//! microdns test double.

use std::path::Path;
use std::process::Output;

use mkube::sim::microdns::{self, MicrodnsSimOptions, RunningMicrodns};
use serde_json::{Value, json};

async fn double() -> RunningMicrodns {
    microdns::start(MicrodnsSimOptions::default())
        .await
        .expect("microdns double starts")
}

fn network(name: &str, octet: u8, zone: &str, endpoint: &str) -> String {
    format!(
        "  - name: {name}\n    bridge: bridge-{name}\n    cidr: 192.168.{octet}.0/24\n    dns:\n      endpoint: {endpoint}\n      zone: {zone}\n"
    )
}

fn write_config(dir: &Path, networks: &[String]) -> std::path::PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(&path, format!("networks:\n{}", networks.concat())).expect("config");
    path
}

fn mkube(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mkube"))
        .args(args)
        .output()
        .expect("mkube runs")
}

/// `mkube dns import --config CONFIG --zone ZONE FILE`.
fn import(config: &std::path::Path, zone: &str, file: &std::path::Path) -> std::process::Output {
    mkube(&[
        "dns",
        "import",
        "--config",
        config.to_str().unwrap(),
        "--zone",
        zone,
        file.to_str().unwrap(),
    ])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn r16_backup_pages_every_zone_and_record() {
    let sim = double().await;
    let zone = sim.seed_zone("gt.lo");
    for i in 0..250 {
        sim.seed_record(
            &zone,
            &format!("host{i}"),
            "A",
            json!(format!("192.168.10.{}", i % 250 + 1)),
            60,
        );
    }
    let rev = sim.seed_zone("10.168.192.in-addr.arpa");
    sim.seed_record(&rev, "5", "PTR", json!("host4.gt.lo"), 300);
    sim.seed_zone("empty.lo");

    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &[network("g10", 10, "gt.lo", &sim.endpoint())]);
    let out = dir.path().join("backup");
    let run = mkube(&[
        "dns",
        "backup",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "stderr: {}", text(&run.stderr));
    assert!(
        text(&run.stdout).contains("g10: 3 zones, 251 records"),
        "{}",
        text(&run.stdout)
    );

    let backup: Value =
        serde_json::from_slice(&std::fs::read(out.join("g10.json")).expect("file")).expect("json");
    assert_eq!(backup["network"], "g10");
    assert_eq!(backup["server"], sim.rest_addr().to_string());
    let zones = backup["zones"].as_array().expect("zones");
    let by_name = |n: &str| {
        zones
            .iter()
            .find(|z| z["zone"]["name"] == n)
            .unwrap_or_else(|| panic!("{n}"))
    };
    assert_eq!(by_name("gt.lo")["records"].as_array().unwrap().len(), 250);
    assert_eq!(
        by_name("10.168.192.in-addr.arpa")["records"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(by_name("empty.lo")["records"].as_array().unwrap().len(), 0);
    // The zone and record objects are the server's own, field for field.
    let first = &by_name("gt.lo")["records"][0];
    assert!(sim.records("gt.lo").contains(first));
    assert!(by_name("gt.lo")["zone"]["soa"].is_object());
}

#[tokio::test]
async fn r16_backup_names_an_unreachable_endpoint_and_still_writes_the_others() {
    let sim = double().await;
    let zone = sim.seed_zone("gt.lo");
    sim.seed_record(&zone, "web", "A", json!("192.168.10.5"), 60);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &[
            network("g10", 10, "gt.lo", &sim.endpoint()),
            network("g11", 11, "gw.lo", &closed),
        ],
    );
    let out = dir.path().join("backup");
    let run = mkube(&[
        "dns",
        "backup",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    let err = text(&run.stderr);
    assert!(err.contains("g11") && err.contains(&closed), "{err}");
    assert!(out.join("g10.json").exists());
    assert!(!out.join("g11.json").exists());
}

const ZONE_FILE: &str = r#"$ORIGIN gt.lo.
$TTL 300
@       IN SOA ns1.gt.lo. admin.gt.lo. ( 2026022401 3600 900 604800 300 )
@       IN NS  ns1
ns1        A   192.168.10.199
www     60 A   192.168.10.5
           A   192.168.10.6   ; round robin, same owner
alias      CNAME www
@          MX  10 mail.gt.lo.
txt        TXT "hello world"
_http._tcp SRV 0 5 80 www
"#;

#[tokio::test]
async fn import_creates_missing_records_and_a_second_run_creates_nothing() {
    let sim = double().await;
    let zone = sim.seed_zone("gt.lo");
    sim.seed_record(&zone, "ns1", "A", json!("192.168.10.199"), 300);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &[network("g10", 10, "gt.lo", &sim.endpoint())]);
    let file = dir.path().join("gt.lo.zone");
    std::fs::write(&file, ZONE_FILE).expect("zone file");

    let first = import(&config, "gt.lo", &file);
    assert!(first.status.success(), "stderr: {}", text(&first.stderr));
    let out = text(&first.stdout);
    assert!(
        out.contains("6 created, 1 already present, 2 skipped"),
        "{out}"
    );
    assert_eq!(sim.records("gt.lo").len(), 7);
    let www: Vec<Value> = sim
        .records("gt.lo")
        .into_iter()
        .filter(|r| r["name"] == "www")
        .collect();
    assert_eq!(www.len(), 2);
    assert_eq!(www[0]["ttl"], 60);

    sim.clear_requests();
    let second = import(&config, "gt.lo", &file);
    assert!(second.status.success(), "stderr: {}", text(&second.stderr));
    assert!(
        text(&second.stdout).contains("0 created, 7 already present"),
        "{}",
        text(&second.stdout)
    );
    assert!(
        sim.requests().iter().all(|r| r.method == "GET"),
        "second run writes nothing"
    );
    assert_eq!(sim.records("gt.lo").len(), 7);
}

#[tokio::test]
async fn import_creates_the_zone_when_missing() {
    let sim = double().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &[network("g10", 10, "gt.lo", &sim.endpoint())]);
    let file = dir.path().join("z");
    std::fs::write(&file, "web A 192.168.10.5\n").expect("zone file");
    let run = import(&config, "gt.lo", &file);
    assert!(run.status.success(), "stderr: {}", text(&run.stderr));
    assert_eq!(sim.records("gt.lo").len(), 1);
}

#[tokio::test]
async fn import_of_a_malformed_zone_file_names_the_line_and_writes_nothing() {
    let sim = double().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &[network("g10", 10, "gt.lo", &sim.endpoint())]);
    let file = dir.path().join("bad.zone");
    std::fs::write(&file, "$TTL 60\nok A 192.168.10.5\nbad A 192.168.10.300\n").expect("zone file");
    let run = import(&config, "gt.lo", &file);
    assert!(!run.status.success());
    let err = text(&run.stderr);
    assert!(err.contains("line 3") && err.contains("bad IPv4"), "{err}");
    assert!(sim.requests().is_empty(), "nothing sent for a bad file");
}

#[tokio::test]
async fn import_into_an_unknown_zone_is_a_clear_error() {
    let sim = double().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &[network("g10", 10, "gt.lo", &sim.endpoint())]);
    let file = dir.path().join("z");
    std::fs::write(&file, "web A 10.0.0.5\n").expect("zone file");
    let run = import(&config, "other.lo", &file);
    assert!(!run.status.success());
    assert!(
        text(&run.stderr).contains("no network"),
        "{}",
        text(&run.stderr)
    );
}

// Issue 11 item 8: against a microdns that requires an API key, backup and import fail with
// an error naming the endpoint and the missing key; with `dns.apiKeyFile` naming the key
// both work. The key never appears in what the binary prints.
#[tokio::test]
async fn backup_and_import_send_the_api_key_from_the_key_file() {
    const KEY: &str = "cli-k3y";
    let sim = double().await;
    let zone = sim.seed_zone("gt.lo");
    sim.seed_record(&zone, "web", "A", json!("192.168.10.5"), 60);
    sim.set_fault(mkube::sim::microdns::Fault::require_api_key(KEY));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("z");
    std::fs::write(&file, "db A 192.168.10.7\n").expect("zone file");
    let backup = |config: &Path, out: &Path| {
        mkube(&[
            "dns",
            "backup",
            "--config",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };

    let bare = dir.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    let config = write_config(&bare, &[network("g10", 10, "gt.lo", &sim.endpoint())]);
    for run in [
        backup(&config, &bare.join("out")),
        import(&config, "gt.lo", &file),
    ] {
        assert!(!run.status.success());
        let err = text(&run.stderr);
        assert!(
            err.contains(&sim.endpoint()) && err.contains("401") && err.contains("apiKeyFile"),
            "{err}"
        );
    }

    let keyed = dir.path().join("keyed");
    std::fs::create_dir(&keyed).unwrap();
    let key_file = keyed.join("microdns.key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let net = format!(
        "{}      apiKeyFile: {}\n",
        network("g10", 10, "gt.lo", &sim.endpoint()),
        key_file.display()
    );
    let config = write_config(&keyed, &[net]);
    let out = keyed.join("out");
    let runs = [backup(&config, &out), import(&config, "gt.lo", &file)];
    for run in &runs {
        assert!(run.status.success(), "stderr: {}", text(&run.stderr));
        assert!(!text(&run.stdout).contains(KEY) && !text(&run.stderr).contains(KEY));
    }
    assert!(text(&runs[0].stdout).contains("g10: 1 zones, 1 records"));
    assert!(text(&runs[1].stdout).contains("1 created"));
    let saved = std::fs::read_to_string(out.join("g10.json")).unwrap();
    assert!(saved.contains("\"web\"") && !saved.contains(KEY));
    assert!(sim.records("gt.lo").iter().any(|r| r["name"] == "db"));
}
