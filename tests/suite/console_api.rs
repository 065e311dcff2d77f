//! What the console needs of the API beyond kubectl's (issue 18): the event log as JSON
//! records (`GET /api/v1/log`: newest first limited, by area, and followed as a watch), and
//! pod and ConfigMap bodies in YAML (a pasted manifest), with bad input refused as a
//! `Status` that changes nothing.

use crate::common::NatsServer;
use crate::common::api::{Api, assert_status};
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;

const PODS: &str = "/api/v1/namespaces/default/pods";
const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn pod_yaml(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{app: web}}\nspec:\n  containers:\n    - name: c\n      image: reg/app:v1\n"
    )
}

#[actix_rt::test]
async fn the_log_lists_and_follows_records_and_yaml_bodies_create() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    let yaml = "application/yaml";

    // A pasted pod in YAML is created as its JSON would be.
    let (code, created) = api.send("POST", PODS, yaml, pod_yaml("web")).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["metadata"]["labels"]["app"], "web");
    assert_eq!(created["spec"]["containers"][0]["image"], "reg/app:v1");
    let cm = "kind: ConfigMap\napiVersion: v1\nmetadata: {name: cfg}\ndata: {level: \"3\"}\n";
    let (code, _) = api.send("POST", CMS, yaml, cm.into()).await;
    assert_eq!(code, 201);
    let (code, got) = api.get(&format!("{CMS}/cfg")).await;
    assert_eq!((code, &got["data"]["level"]), (200, &json!("3")));

    // Bad YAML, YAML that is not a mapping, and admission refusals: a Status, nothing appended.
    let before = api.last_seq().await;
    for (body, needle) in [
        ("kind: Pod\nmetadata: [", "invalid pod YAML"),
        ("- a\n- b\n", "expected a mapping"),
        (
            "kind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: c}]}\n",
            "image",
        ),
        ("kind: Service\nmetadata: {name: x}\n", "kind"),
    ] {
        let got = api.send("POST", PODS, yaml, body.into()).await;
        assert_status(&got, got.0, needle);
        assert!((400..500).contains(&got.0), "{body}: {got:?}");
    }
    assert_eq!(api.last_seq().await, before, "a refused body appended");

    // The newest records, each as `mkube events --format json` prints it.
    let last = api.last_seq().await;
    let (code, list) = api.get("/api/v1/log?limit=2").await;
    assert_eq!(code, 200, "{list}");
    assert_eq!(list["metadata"]["resourceVersion"], last.to_string());
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["seq"], last);
    assert_eq!(items[0]["seq"].as_u64().unwrap() + 1, last);
    for key in [
        "subject", "stored", "kind", "time", "node", "actor", "corr", "payload",
    ] {
        assert!(items[1].get(key).is_some(), "{key} in {}", items[1]);
    }
    // One area only: every record's subject is of that area.
    let (_, pods_only) = api.get("/api/v1/log?area=pods&limit=1000").await;
    let pods_only = pods_only["items"].as_array().unwrap().clone();
    assert!(!pods_only.is_empty());
    assert!(
        pods_only
            .iter()
            .all(|r| r["subject"].as_str().unwrap().split('.').nth(2) == Some("pods"))
    );
    let (_, all) = api.get("/api/v1/log?limit=1000").await;
    assert!(all["items"].as_array().unwrap().len() > pods_only.len());
    for bad in ["limit=0", "limit=5000", "limit=many"] {
        let got = api.get(&format!("/api/v1/log?{bad}")).await;
        assert_status(&got, 400, "limit");
    }
    let got = api
        .send("POST", "/api/v1/log", "application/json", "{}".into())
        .await;
    assert_eq!(got.0, 405);

    // Following: the records after the list's version arrive as ADDED lines.
    let resp = api
        .http
        .get(api.url(&format!("/api/v1/log?watch=true&resourceVersion={last}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let (code, _) = api.send("POST", PODS, yaml, pod_yaml("api")).await;
    assert_eq!(code, 201);
    let mut text = String::new();
    let line: Value = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let chunk = body.next().await.expect("stream open").unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
            if let Some((first, _)) = text.split_once('\n') {
                return serde_json::from_str(first).unwrap();
            }
        }
    })
    .await
    .expect("a record followed");
    assert_eq!(line["type"], "ADDED");
    assert_eq!(line["object"]["seq"], last + 1);
    assert_eq!(line["object"]["kind"], "pods.PodDeclared", "{line}");
}
