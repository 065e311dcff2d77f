//! A plain NATS subscriber written in Python (nats-py + cbor2, no mkube code) receives every
//! event kind on its documented subject and decodes it from the README's envelope schema.

use crate::common;

use common::{NatsServer, cluster, samples};
use mkube::events::{Envelope, subject};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[actix_rt::test]
async fn a_python_subscriber_decodes_every_event_on_its_subject() {
    let nats = NatsServer::start();
    let cfg = cluster::config(&nats.url());
    let c = cluster::boot(&cfg).await;
    let events = samples::all();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/suite/subscriber.py");
    let mut child = Command::new("python3")
        .args([
            script,
            &nats.url(),
            cluster::NODE,
            &events.len().to_string(),
            "30",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 (scripts/test installs nats-py and cbor2)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "ready",
        "subscriber did not start"
    );

    for event in events.clone() {
        cluster::record(&c, event, "py").await;
    }
    let received: Vec<serde_json::Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(child.wait().unwrap().success(), "subscriber failed");
    assert_eq!(received.len(), events.len());
    for (got, event) in received.iter().zip(&events) {
        let expected = Envelope::new(cluster::NODE, "", "py", event.clone());
        assert_eq!(got["subject"], subject::for_event(cluster::NODE, event));
        assert_eq!(got["kind"], samples::kind_name(event));
        assert_eq!(got["v"], 2);
        assert_eq!(got["node"], cluster::NODE);
        assert_eq!(got["corr"], "py");
        assert!(chrono::DateTime::parse_from_rfc3339(got["time"].as_str().unwrap()).is_ok());
        assert_eq!(
            got["payload"],
            expected.payload_json(),
            "{}",
            samples::kind_name(event)
        );
    }
}
