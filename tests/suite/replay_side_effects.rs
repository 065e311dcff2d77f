//! Replay performs no side effects: booting over a populated log changes nothing on the device
//! (its only device call is the connect-time read of `/system/resource`, after replay), touches
//! no DNS, and appends nothing.

use crate::common;

use common::mkube::MkubeProcess;
use common::{NatsServer, cluster, samples};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A loopback listener that only counts who connects to it.
fn connection_counter() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if conn.is_ok() {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    (port, count)
}

#[actix_rt::test]
async fn booting_over_a_populated_log_contacts_nothing_and_appends_nothing() {
    let nats = NatsServer::start();
    let node = "quiet";
    // Populate the log with one event of every kind, through the actors.
    let mut cfg = cluster::config(&nats.url());
    cfg.node_name = node.into();
    let c = cluster::boot(&cfg).await;
    for event in samples::all() {
        cluster::record(&c, event, "").await;
    }
    let log = cluster::log(&cfg).await;
    let before = log.last_sequence().await.unwrap();
    assert_eq!(before, samples::all().len() as u64);

    // Every DNS endpoint and the registry point at a counter; the device is the simulator,
    // whose journal lists every call it answered.
    let (port, contacts) = connection_counter();
    let endpoint = format!("http://127.0.0.1:{port}");
    let sim = crate::sim_common::start(Default::default()).await;
    sim.control("DELETE", "/journal", None).await;
    let extra = format!(
        "routeros:\n  restUrl: {}\nregistry:\n  localAddresses: [\"127.0.0.1:{port}\"]\n",
        sim.sim.rest_url()
    );
    let dir = tempfile::tempdir().unwrap();
    let config_text = |listen: &str| {
        format!(
            "nodeName: {node}\nnetworks:\n  - name: t\n    bridge: t\n    cidr: 127.77.0.0/24\n    dns: {{endpoint: \"{endpoint}\", zone: t.lo, server: 127.77.0.252, staticRecords: []}}\nnats: {{url: \"{}\"}}\napi: {{listen: \"{listen}\"}}\n{extra}",
            nats.url()
        )
    };
    let mk = MkubeProcess::start_config(dir.path(), config_text);
    let http = common::http();
    mk.wait_ready(&http).await;
    // Replayed state is served…
    let pods: serde_json::Value = mk.get_json(&http, "/api/v1/pods").await;
    assert!(pods["items"].is_array());
    assert!(mk.log_text().contains("replay complete"));
    // …while nothing was contacted and nothing appended.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        contacts.load(Ordering::SeqCst),
        0,
        "replay contacted DNS or the registry"
    );
    // Not standalone: the device engine is off, so the device is not contacted at all.
    let calls = sim.control("GET", "/journal", None).await;
    assert_eq!(
        calls.as_array().map_or(0, |c| c.len()),
        0,
        "the device was contacted: {calls}"
    );
    assert_eq!(
        log.last_sequence().await.unwrap(),
        before,
        "replay appended events"
    );
}
