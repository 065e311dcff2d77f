//! Issue 11 item 8: a microdns configured with `api.rest.api_key` answers `/api/v1/health`
//! without a key and refuses every zone call without `X-API-Key` (401, empty body; the
//! double's `require_api_key` fault). mkube reads a per-network key from
//! `networks[].dns.apiKeyFile` at load and sends it on every call; the key is never shown.

use crate::common::cluster;
use crate::dns_pods::{a_records, dns_env, ip_list};
use crate::engine_support::*;
use mkube::actors::dns::validate::Validate;
use mkube::config::generated::generated_config_maps;
use mkube::config::{ApiKey, from_yaml_str};
use mkube::microdns::{MicrodnsClient, MicrodnsError};
use mkube::sim::microdns::{self, Fault, MicrodnsSimOptions};

const KEY: &str = "k3y-0f-t";

/// A key file as an operator writes it (with a trailing newline).
fn key_file(dir: &std::path::Path, key: &str) -> String {
    let path = dir.join("microdns.key");
    std::fs::write(&path, format!("{key}\n")).unwrap();
    path.to_str().unwrap().to_string()
}

// Without a key every sync of the keyed zone fails with an error naming the endpoint, the
// request and the missing key; the zone is never created, and the other network's zone
// (no key needed) is synced as usual.
#[actix_rt::test]
async fn without_the_key_every_sync_fails_with_a_clear_error() {
    let e = dns_env().await;
    e.t.set_fault(Fault::require_api_key(KEY));
    let c = cluster::boot(&e.env.cfg).await;
    for _ in 0..2 {
        let report = pass(&c).await.dns.expect("the pass has a DNS step");
        let t = report.zones.iter().find(|z| z.network == "t").unwrap();
        let err = t.error.as_deref().expect("t fails");
        assert!(err.contains(&e.t.endpoint()), "{err}");
        assert!(
            err.contains("GET /api/v1/zones") && err.contains("401"),
            "{err}"
        );
        assert!(
            err.contains("requires an API key") && err.contains("apiKeyFile"),
            "{err}"
        );
        let u = report.zones.iter().find(|z| z.network == "u").unwrap();
        assert!(u.error.is_none(), "{u:?}");
    }
    assert!(e.t.zones().is_empty());
    assert!(a_records(&e.u, "u.lo").contains_key("rose1"));
}

// With `dns.apiKeyFile` the same setup registers the zone's names and a pod's names, and
// every request carries the key; the key shows up nowhere: not in the config's Debug or
// JSON form, not in the generated microdns.toml, not in the event log.
#[actix_rt::test]
async fn with_the_key_file_names_are_registered() {
    let mut e = dns_env().await;
    e.t.set_fault(Fault::require_api_key(KEY));
    let dir = tempfile::tempdir().unwrap();
    e.env.cfg.networks[0].dns.api_key_file = key_file(dir.path(), KEY);
    assert!(e.env.cfg.read_api_keys().is_empty());
    let c = cluster::boot(&e.env.cfg).await;
    declare(&c, pod("web", &[])).await;
    settle(&c, "default/web").await.expect("created");
    let report = pass(&c).await.dns.expect("the pass has a DNS step");
    assert!(report.zones.iter().all(|z| z.error.is_none()), "{report:?}");
    let ip = pods_state(&c).await.pods["default/web"].containers["app"]
        .ip
        .clone();
    let got = a_records(&e.t, "t.lo");
    assert_eq!(got["web"], ip_list(&ip));
    assert_eq!(got["rose1"], ip_list("127.77.0.1"));
    let requests = e.t.requests();
    assert!(!requests.is_empty() && requests.iter().all(|r| r.api_key_sent));
    assert!(requests.iter().all(|r| r.status != 401));
    // The other network has no key file: nothing is sent there.
    assert!(e.u.requests().iter().all(|r| !r.api_key_sent));
    // R12's validation reads the zone with the key too.
    let checks = c
        .dns
        .send(Validate {
            pods: std::sync::Arc::new(pods_state(&c).await),
        })
        .await
        .unwrap();
    let reachable = checks
        .iter()
        .find(|c| c.name == "zone/t/reachable")
        .unwrap();
    assert_eq!(
        reachable.status,
        mkube::actors::checks::Status::Pass,
        "{reachable:?}"
    );
    assert!(e.t.requests().iter().all(|r| r.api_key_sent));

    let cfg = &e.env.cfg;
    assert!(!format!("{cfg:?}").contains(KEY));
    let json = serde_json::to_string(cfg).unwrap();
    assert!(!json.contains(KEY) && json.contains("apiKeyFile"));
    for cm in generated_config_maps(cfg) {
        for text in cm.data.unwrap_or_default().values() {
            assert!(!text.contains(KEY) && !text.contains("api_key"), "{text}");
        }
    }
    let (_, fold) = log_kinds(cfg).await;
    assert!(!format!("{:?}", fold.state).contains(KEY));
}

// The client names the endpoint and tells a missing key from a wrong one; health, zones and
// records all carry the key once configured.
#[actix_rt::test]
async fn the_client_sends_the_key_on_every_call_and_explains_a_401() {
    let sim = microdns::start(MicrodnsSimOptions::default())
        .await
        .unwrap();
    sim.set_fault(Fault::require_api_key(KEY));
    let endpoint = sim.endpoint();
    let bare = MicrodnsClient::new().unwrap();
    let missing = bare.list_zones(&endpoint).await.unwrap_err();
    assert!(matches!(
        missing,
        MicrodnsError::Unauthorized {
            key_sent: false,
            ..
        }
    ));
    assert_eq!(missing.status(), Some(401));
    assert!(bare.health(&endpoint).await.is_ok(), "health needs no key");

    let keyed = |key: &str| {
        // A trailing slash on the endpoint finds the same key.
        let key = ApiKey::new(key).unwrap();
        MicrodnsClient::new()
            .unwrap()
            .with_api_keys([(format!("{endpoint}/"), key)])
    };
    let wrong = keyed("not-the-key").ensure_zone(&endpoint, "t.lo").await;
    let text = wrong.unwrap_err().to_string();
    assert!(
        text.contains(&endpoint) && text.contains("refused") && !text.contains("not-the-key"),
        "{text}"
    );

    sim.clear_requests();
    let client = keyed(KEY);
    let zone = client.ensure_zone(&endpoint, "t.lo").await.unwrap();
    client
        .create_a_record(&endpoint, &zone, "web", "127.77.0.5", 60)
        .await
        .unwrap();
    let records = client.list_records(&endpoint, &zone).await.unwrap();
    client
        .delete_record(&endpoint, &zone, &records[0].id)
        .await
        .unwrap();
    client.health(&endpoint).await.unwrap();
    let log = sim.requests();
    assert!(log.iter().any(|r| r.route == "/api/v1/health"));
    assert!(log.iter().all(|r| r.api_key_sent && r.status != 401));
}

/// Network `t` with `dns_extra` in its dns block; with `shared`, network `u` names the
/// same endpoint (a trailing slash and all) without a key file.
fn config_yaml(dns_extra: &str, shared: bool) -> String {
    let mut yaml = format!(
        "networks:\n  - name: t\n    bridge: t\n    cidr: 127.77.0.0/24\n    dns: {{endpoint: \"http://127.0.0.1:9\", zone: t.lo{dns_extra}}}\n"
    );
    if shared {
        yaml.push_str("  - name: u\n    bridge: u\n    cidr: 127.78.0.0/24\n    dns: {endpoint: \"http://127.0.0.1:9/\", zone: u.lo}\n");
    }
    yaml
}

// Loading reads the key file: a trailing newline is trimmed; a missing or empty file is a
// config error naming the field; two networks on one endpoint must name one key file.
#[test]
fn api_key_file_is_read_and_checked_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let file = key_file(dir.path(), KEY);
    let with = |path: &str, shared: bool| {
        from_yaml_str(
            &config_yaml(&format!(", apiKeyFile: {path}"), shared),
            "test.yaml",
        )
    };

    let loaded = with(&file, false).unwrap().config;
    let key = loaded.networks[0].dns.api_key.as_ref().unwrap();
    assert_eq!(key.expose(), KEY, "the trailing newline is trimmed");
    let keys = loaded.microdns_api_keys();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].0, "http://127.0.0.1:9");

    let err = with(&file, true).unwrap_err();
    let problems = err.problems();
    assert_eq!(problems.len(), 1, "{err}");
    assert_eq!(problems[0].field, "networks[1].dns.apiKeyFile");
    assert!(
        problems[0].reason.contains("same microdns endpoint"),
        "{err}"
    );

    let missing = dir.path().join("nope.key");
    let text = with(missing.to_str().unwrap(), false)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("networks[0].dns.apiKeyFile") && text.contains("nope.key"),
        "{text}"
    );

    let empty = dir.path().join("empty.key");
    std::fs::write(&empty, "\n").unwrap();
    let text = with(empty.to_str().unwrap(), false)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("networks[0].dns.apiKeyFile") && text.contains("empty"),
        "{text}"
    );
}
