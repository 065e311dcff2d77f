//! The Kubernetes-shaped API over real HTTP (controller.md §9, API-1…API-6, §3.6, §3.7):
//! discovery, pods, status, tables, watch, ConfigMaps, namespaces, events and logs, against an
//! in-process cluster on a real nats-server (so engine facts can be recorded and observed).

use crate::common;

use common::NatsServer;
use common::api::{Api, assert_status};
use futures::StreamExt;
use mkube::actors::journal::testing::Append;
use mkube::events::catalogue::{IpamEvent, PodsEvent};
use serde_json::{Value, json};
use std::time::Duration;

fn pod(name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [{"name": "c", "image": image, "command": ["/bin/run", "-v"]}]}
    })
}

async fn record(api: &Api, event: PodsEvent) -> u64 {
    api.cluster
        .pods
        .send(Append {
            event,
            correlation: "test".into(),
        })
        .await
        .unwrap()
        .unwrap()
}

/// Reads watch lines until `n` arrived (or 10 s passed).
async fn lines(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buf: &mut String,
    n: usize,
) -> Vec<Value> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while out.len() < n {
        while let Some(pos) = buf.find('\n') {
            let line: String = buf.drain(..=pos).collect();
            out.push(serde_json::from_str(line.trim()).expect("a JSON watch line"));
            if out.len() == n {
                return out;
            }
        }
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("watch gave {} of {n} lines: {out:?}", out.len()))
            .expect("stream open")
            .expect("chunk");
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    out
}

// §9 discovery: what kubectl reads before any verb.
#[actix_rt::test]
async fn discovery_answers_what_kubectl_asks() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    let (code, v) = api.get("/api").await;
    assert_eq!((code, v["kind"].as_str()), (200, Some("APIVersions")));
    assert_eq!(v["versions"], json!(["v1"]));
    let (_, v) = api.get("/api/v1").await;
    assert_eq!(v["kind"], "APIResourceList");
    assert_eq!(v["groupVersion"], "v1");
    let names: Vec<&str> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for want in [
        "pods",
        "pods/log",
        "pods/status",
        "configmaps",
        "namespaces",
        "events",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let pods = &v["resources"][0];
    for verb in [
        "get", "list", "watch", "create", "update", "patch", "delete",
    ] {
        assert!(pods["verbs"].as_array().unwrap().contains(&json!(verb)));
    }
    let (_, v) = api.get("/apis").await;
    assert_eq!(
        v,
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
    );
    let (_, v) = api.get("/version").await;
    assert_eq!(
        (v["major"].as_str(), v["minor"].as_str()),
        (Some("1"), Some("29"))
    );
    assert_eq!(v["gitVersion"], "v1.29.0-mkube");
    // kubectl apply/create look for server-side field validation in OpenAPI v3.
    let (code, root) = api.get("/openapi/v3").await;
    assert_eq!(code, 200);
    let url = root["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap();
    let (code, doc) = api.get(url).await;
    assert_eq!(code, 200);
    let op = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
    assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Pod");
    assert_eq!(op["parameters"][0]["name"], "fieldValidation");
    assert_status(&api.get("/openapi/v2").await, 404, "could not find");
    api.stop().await;
}

// §9 pods: create, get, status, list, replace, merge and strategic patches, delete.
#[actix_rt::test]
async fn pods_create_get_replace_patch_delete() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    let pods = "/api/v1/namespaces/default/pods";
    let (code, created) = api.post(pods, &pod("web", "img:v1")).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["kind"], "Pod");
    assert_eq!(created["metadata"]["namespace"], "default");
    // resourceVersion = the log sequence of the pod's last event.
    assert_eq!(created["metadata"]["resourceVersion"], "1");
    let uid = created["metadata"]["uid"].as_str().unwrap().to_string();
    let created_at = created["metadata"]["creationTimestamp"].clone();
    assert!(created_at.is_string());
    assert_eq!(created["status"]["phase"], "Pending");
    assert_status(
        &api.post(pods, &pod("web", "img:v1")).await,
        409,
        "already exists",
    );

    let (code, got) = api.get("/api/v1/namespaces/default/pods/web").await;
    assert_eq!(code, 200);
    assert_eq!(got["metadata"]["uid"], uid.as_str());
    let (code, status) = api.get("/api/v1/namespaces/default/pods/web/status").await;
    assert_eq!(code, 200);
    assert_eq!(status["status"]["phase"], "Pending");
    let (_, list) = api.get("/api/v1/pods").await;
    assert_eq!(list["kind"], "PodList");
    assert_eq!(list["metadata"]["resourceVersion"], "1");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["kind"], "Pod");
    let (_, other) = api.get("/api/v1/namespaces/other/pods").await;
    assert_eq!(other["items"], json!([]));
    let (_, selected) = api.get("/api/v1/pods?labelSelector=app%3Dnope").await;
    assert_eq!(selected["items"], json!([]));
    let (_, selected) = api
        .get("/api/v1/pods?fieldSelector=metadata.name%3Dweb")
        .await;
    assert_eq!(selected["items"].as_array().unwrap().len(), 1);

    // PUT replaces the spec and keeps the identity.
    let one = "/api/v1/namespaces/default/pods/web";
    let mut replaced = pod("web", "img:v2");
    replaced["metadata"]["resourceVersion"] = json!("1");
    let (code, put) = api
        .send("PUT", one, "application/json", replaced.to_string())
        .await;
    assert_eq!(code, 200, "{put}");
    assert_eq!(put["spec"]["containers"][0]["image"], "img:v2");
    assert_eq!(put["metadata"]["uid"], uid.as_str());
    assert_eq!(put["metadata"]["creationTimestamp"], created_at);
    assert_eq!(put["metadata"]["resourceVersion"], "2");
    // A stale resourceVersion is a conflict; names must match the path.
    assert_status(
        &api.send("PUT", one, "application/json", replaced.to_string())
            .await,
        409,
        "has been modified",
    );
    assert_status(
        &api.send(
            "PUT",
            one,
            "application/json",
            pod("other", "x").to_string(),
        )
        .await,
        400,
        "does not match the name",
    );
    assert_status(
        &api.send(
            "PUT",
            "/api/v1/namespaces/default/pods/ghost",
            "application/json",
            pod("ghost", "x").to_string(),
        )
        .await,
        404,
        "not found",
    );

    // JSON merge patch.
    let (code, merged) = api
        .send(
            "PATCH",
            one,
            "application/merge-patch+json",
            json!({"metadata": {"labels": {"tier": "front"}}}).to_string(),
        )
        .await;
    assert_eq!(code, 200, "{merged}");
    assert_eq!(merged["metadata"]["labels"]["tier"], "front");
    assert_eq!(merged["metadata"]["labels"]["app"], "web");
    // Strategic merge patch (kubectl apply): containers merge by name, command is kept.
    let (code, strategic) = api
        .send(
            "PATCH",
            one,
            "application/strategic-merge-patch+json",
            json!({"spec": {"$setElementOrder/containers": [{"name": "c"}],
                            "containers": [{"name": "c", "image": "img:v3"}]}})
            .to_string(),
        )
        .await;
    assert_eq!(code, 200, "{strategic}");
    assert_eq!(strategic["spec"]["containers"][0]["image"], "img:v3");
    assert_eq!(
        strategic["spec"]["containers"][0]["command"],
        json!(["/bin/run", "-v"])
    );
    assert!(
        strategic["spec"]
            .get("$setElementOrder/containers")
            .is_none()
    );
    assert_status(
        &api.send("PATCH", one, "application/json-patch+json", "[]".into())
            .await,
        415,
        "unknown format",
    );
    assert_status(
        &api.send(
            "PATCH",
            "/api/v1/namespaces/default/pods/ghost",
            "application/merge-patch+json",
            "{}".into(),
        )
        .await,
        404,
        "not found",
    );
    // A patch may not rename the pod.
    assert_status(
        &api.send(
            "PATCH",
            one,
            "application/merge-patch+json",
            json!({"metadata": {"name": "other"}}).to_string(),
        )
        .await,
        400,
        "does not match the name",
    );

    // Issue 11 item 4: a pod's DELETE answers the pod, marked deleted, as an API server does.
    let r = api.http.delete(api.url(one)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["kind"], "Pod");
    assert_eq!(body["metadata"]["name"], "web");
    assert!(body["metadata"]["deletionTimestamp"].is_string(), "{body}");
    assert_status(&api.get(one).await, 404, "not found");
    let again = api.http.delete(api.url(one)).send().await.unwrap();
    assert_eq!(again.status(), 404);
    api.stop().await;
}

// DELETE also removes a pod known only to the log (its subject has facts, but no declaration).
#[actix_rt::test]
async fn delete_removes_a_pod_known_only_to_the_log() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    record(
        &api,
        PodsEvent::ContainerCreated {
            namespace: "default".into(),
            name: "stray".into(),
            container: "c".into(),
            device_name: "default_stray_c".into(),
            device_id: "*9".into(),
            adopted: true,
        },
    )
    .await;
    let one = api.url("/api/v1/namespaces/default/pods/stray");
    let r = api.http.delete(&one).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(api.last_seq().await, 2, "PodDeleted recorded");
    // Now the log says it is deleted: a second delete is a 404 and appends nothing.
    assert_eq!(api.http.delete(&one).send().await.unwrap().status(), 404);
    assert_eq!(api.last_seq().await, 2);
    api.stop().await;
}

// §3.6: status from the pods fold (containers, failures) and IPAM (podIP of veth 0, NAME-2).
#[actix_rt::test]
async fn pod_status_maps_containers_failures_and_ip() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    let pods = "/api/v1/namespaces/default/pods";
    assert_eq!(api.post(pods, &pod("web", "img:v1")).await.0, 201);
    assert_eq!(api.post(pods, &pod("bad", "img:v1")).await.0, 201);
    let s = |x: &str| x.to_string();
    record(
        &api,
        PodsEvent::ContainerCreated {
            namespace: s("default"),
            name: s("web"),
            container: s("c"),
            device_name: s("default_web_c"),
            device_id: s("*1A"),
            adopted: false,
        },
    )
    .await;
    let (_, p) = api.get("/api/v1/namespaces/default/pods/web").await;
    let c = &p["status"]["containerStatuses"][0];
    assert_eq!(c["state"]["waiting"]["reason"], "ContainerCreating");
    assert_eq!(c["containerID"], "*1A");
    let seq = record(
        &api,
        PodsEvent::ContainerStarted {
            namespace: s("default"),
            name: s("web"),
            container: s("c"),
        },
    )
    .await;
    api.cluster
        .ipam
        .send(Append {
            event: IpamEvent::IpAllocated {
                network: s("t"),
                key: s("veth_default_web_0"),
                ip: "127.77.0.100".parse().unwrap(),
                hostname: s("c.web"),
                is_static: false,
            },
            correlation: s("t"),
        })
        .await
        .unwrap()
        .unwrap();
    let (_, p) = api.get("/api/v1/namespaces/default/pods/web").await;
    let st = &p["status"];
    assert_eq!(st["phase"], "Running");
    assert_eq!(st["podIP"], "127.77.0.100");
    assert_eq!(st["podIPs"], json!([{"ip": "127.77.0.100"}]));
    assert_eq!(st["hostIP"], "127.77.0.1");
    assert_eq!(st["containerStatuses"][0]["ready"], true);
    assert!(st["containerStatuses"][0]["state"]["running"].is_object());
    let ready = st["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "True");
    // The pod's resourceVersion is its own last event, not the IPAM one.
    assert_eq!(p["metadata"]["resourceVersion"], seq.to_string());

    record(
        &api,
        PodsEvent::PodCreateFailed {
            namespace: s("default"),
            name: s("bad"),
            reason: s("pulling img:v1: registry unreachable"),
            waiting_reason: String::new(),
        },
    )
    .await;
    let (_, p) = api.get("/api/v1/namespaces/default/pods/bad").await;
    let waiting = &p["status"]["containerStatuses"][0]["state"]["waiting"];
    assert_eq!(waiting["reason"], "CreateFailed");
    assert!(
        waiting["message"]
            .as_str()
            .unwrap()
            .contains("registry unreachable")
    );
    assert_eq!(p["status"]["phase"], "Pending");
    api.stop().await;
}

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

// §9: Accept …as=Table → meta.k8s.io/v1 Table with Name, Ready r/t, Status, Restarts, Age (+ IP, Node).
#[actix_rt::test]
async fn pods_answer_tables_when_asked() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    assert_eq!(
        api.post("/api/v1/namespaces/default/pods", &pod("web", "i"))
            .await
            .0,
        201
    );
    for path in [
        "/api/v1/pods",
        "/api/v1/namespaces/default/pods",
        "/api/v1/namespaces/default/pods/web",
    ] {
        let r = api
            .http
            .get(api.url(path))
            .header("accept", TABLE)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let t: Value = r.json().await.unwrap();
        assert_eq!(t["kind"], "Table", "{path}");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        let cols: Vec<(&str, u64)> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap(), c["priority"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            cols,
            [
                ("Name", 0),
                ("Ready", 0),
                ("Status", 0),
                ("Restarts", 0),
                ("Age", 0),
                ("IP", 1),
                ("Node", 1)
            ]
        );
        let row = &t["rows"][0];
        assert_eq!(row["cells"][0], "web");
        assert_eq!(row["cells"][1], "0/1");
        assert_eq!(row["cells"][2], "ContainerCreating");
        assert_eq!(row["cells"][3], "0");
        assert_eq!(row["cells"][6], common::cluster::NODE);
        assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(row["object"]["metadata"]["name"], "web");
    }
    api.stop().await;
}

// API-3: watch = ADDED for what exists, then every change as a line; resourceVersion = sequence.
#[actix_rt::test]
async fn watch_streams_pod_changes_and_resumes_from_a_version() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    let pods = "/api/v1/namespaces/default/pods";
    assert_eq!(api.post(pods, &pod("a", "i")).await.0, 201);
    let resp = api
        .http
        .get(api.url("/api/v1/namespaces/default/pods?watch=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let first = lines(&mut stream, &mut buf, 1).await;
    assert_eq!(first[0]["type"], "ADDED");
    assert_eq!(first[0]["object"]["metadata"]["name"], "a");
    assert_eq!(first[0]["object"]["metadata"]["resourceVersion"], "1");

    assert_eq!(api.post(pods, &pod("b", "i")).await.0, 201);
    // Another namespace is not in this watch.
    assert_eq!(
        api.post("/api/v1/namespaces/other/pods", &pod("x", "i"))
            .await
            .0,
        201
    );
    let patched = api
        .send(
            "PATCH",
            "/api/v1/namespaces/default/pods/b",
            "application/merge-patch+json",
            json!({"metadata": {"labels": {"v": "2"}}}).to_string(),
        )
        .await;
    assert_eq!(patched.0, 200);
    assert_eq!(
        api.http
            .delete(api.url("/api/v1/namespaces/default/pods/b"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let next = lines(&mut stream, &mut buf, 3).await;
    let summary: Vec<(&str, &str, &str)> = next
        .iter()
        .map(|l| {
            (
                l["type"].as_str().unwrap(),
                l["object"]["metadata"]["name"].as_str().unwrap(),
                l["object"]["metadata"]["resourceVersion"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("ADDED", "b", "2"),
            ("MODIFIED", "b", "4"),
            ("DELETED", "b", "5")
        ]
    );
    assert_eq!(next[1]["object"]["metadata"]["labels"]["v"], "2");
    assert_eq!(next[0]["object"]["kind"], "Pod");
    drop(stream);

    // Resuming after version 3 replays only what came later (no initial ADDED).
    let resp = api
        .http
        .get(api.url("/api/v1/pods?watch=true&resourceVersion=3"))
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let later = lines(&mut stream, &mut buf, 2).await;
    assert_eq!(later[0]["type"], "MODIFIED");
    assert_eq!(later[1]["type"], "DELETED");
    assert_eq!(later[1]["object"]["metadata"]["resourceVersion"], "5");

    // A watch asking for a table gets one-row tables (kubectl get -w).
    let resp = api
        .http
        .get(api.url("/api/v1/pods?watch=true"))
        .header("accept", TABLE)
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let t = lines(&mut stream, &mut buf, 1).await;
    assert_eq!(t[0]["object"]["kind"], "Table");
    assert_eq!(t[0]["object"]["rows"][0]["cells"][0], "a");
    api.stop().await;
}

// API-3 with a trimmed log: a version whose successors are gone is 410 Expired, as Kubernetes.
#[actix_rt::test]
async fn watch_from_a_purged_version_is_410_gone() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    let pods = "/api/v1/namespaces/default/pods";
    for name in ["a", "b", "c"] {
        assert_eq!(api.post(pods, &pod(name, "i")).await.0, 201);
    }
    let stream = api
        .log()
        .jetstream()
        .get_stream("MKUBE_EVENTS")
        .await
        .unwrap();
    stream.purge().sequence(3).await.unwrap();
    assert_eq!(api.log().first_sequence().await.unwrap(), 3);
    let got = api.get("/api/v1/pods?watch=true&resourceVersion=1").await;
    assert_status(&got, 410, "too old resource version");
    assert_eq!(got.1["reason"], "Expired");
    // Version 2 is still resumable (its successor 3 is retained).
    let r = api
        .http
        .get(api.url("/api/v1/pods?watch=true&resourceVersion=2&timeoutSeconds=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert_eq!(body.lines().count(), 1, "{body}");
    assert!(body.contains("\"c\""));
    assert_status(
        &api.get("/api/v1/pods?watch=true&resourceVersion=abc").await,
        400,
        "resourceVersion",
    );
    api.stop().await;
}

// §9 ConfigMaps: POST create-or-replace, GET, list, PUT, PATCH, DELETE, watch.
#[actix_rt::test]
async fn configmaps_crud_and_watch() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    let cms = "/api/v1/namespaces/prod/configmaps";
    let one = "/api/v1/namespaces/prod/configmaps/app";
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "app"}, "data": {"app.conf": "port = 80\n"}});
    let (code, created) = api.post(cms, &body).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["metadata"]["namespace"], "prod");
    assert_eq!(created["metadata"]["resourceVersion"], "1");
    let uid = created["metadata"]["uid"].clone();
    // POST again is a conflict, as on an API server (issue 11 item 4; the original replaced).
    assert_status(&api.post(cms, &body).await, 409, "already exists");
    assert_eq!(api.post(cms, &body).await.1["reason"], "AlreadyExists");

    let resp = api
        .http
        .get(api.url("/api/v1/namespaces/prod/configmaps?watch=true"))
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let added = lines(&mut stream, &mut buf, 1).await;
    assert_eq!(added[0]["type"], "ADDED");
    assert_eq!(added[0]["object"]["kind"], "ConfigMap");

    let (code, got) = api.get(one).await;
    assert_eq!(code, 200);
    assert_eq!(got["data"]["app.conf"], "port = 80\n");
    let (_, list) = api.get("/api/v1/configmaps").await;
    assert_eq!(list["kind"], "ConfigMapList");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, list) = api.get("/api/v1/namespaces/default/configmaps").await;
    assert_eq!(list["items"], json!([]));

    let mut replaced = body.clone();
    replaced["data"] = json!({"k": "v"});
    let (code, put) = api
        .send("PUT", one, "application/json", replaced.to_string())
        .await;
    assert_eq!(code, 200, "{put}");
    assert_eq!(put["data"], json!({"k": "v"}));
    assert_eq!(put["metadata"]["uid"], uid);
    let (code, patched) = api
        .send(
            "PATCH",
            one,
            "application/merge-patch+json",
            json!({"data": {"k2": "v2"}}).to_string(),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(patched["data"], json!({"k": "v", "k2": "v2"}));
    assert_status(
        &api.send(
            "PUT",
            "/api/v1/namespaces/prod/configmaps/nope",
            "application/json",
            json!({"metadata": {"name": "nope"}}).to_string(),
        )
        .await,
        404,
        "not found",
    );
    // A stale version is a conflict; the current one is not.
    let mut stale = patched.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    assert_status(
        &api.send("PUT", one, "application/json", stale.to_string())
            .await,
        409,
        "has been modified",
    );
    let r = api.http.delete(api.url(one)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let st: Value = r.json().await.unwrap();
    assert_eq!(st["kind"], "Status");
    assert_eq!(st["status"], "Success");
    assert_eq!(
        st["details"],
        json!({"name": "app", "kind": "configmaps", "uid": uid})
    );
    assert_status(&api.get(one).await, 404, "configmap prod/app not found");
    assert_eq!(
        api.http.delete(api.url(one)).send().await.unwrap().status(),
        404
    );

    let changes = lines(&mut stream, &mut buf, 3).await;
    let kinds: Vec<&str> = changes
        .iter()
        .map(|l| l["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["MODIFIED", "MODIFIED", "DELETED"]);
    api.stop().await;
}

// Issue 11 item 4: each verb answers with the code and body shape a Kubernetes API server
// sends — the object on writes, the Pod (marked deleted) on a pod's DELETE, a Status on a
// ConfigMap's, 405 MethodNotAllowed for verbs a path does not take; dryRun writes nothing;
// DeleteOptions preconditions are honoured.
#[actix_rt::test]
async fn every_verb_answers_as_an_api_server_does() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    let pods = "/api/v1/namespaces/default/pods";
    let one = "/api/v1/namespaces/default/pods/web";
    let (code, created) = api.post(pods, &pod("web", "nginx:1")).await;
    assert_eq!((code, created["kind"].as_str()), (201, Some("Pod")));
    let again = api.post(pods, &pod("web", "nginx:1")).await;
    assert_eq!(
        (again.0, again.1["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );

    // dryRun=All: validated and answered, nothing appended.
    let before = api.last_seq().await;
    let (code, dry) = api
        .post(&format!("{pods}?dryRun=All"), &pod("dry", "nginx:1"))
        .await;
    assert_eq!((code, dry["metadata"]["name"].as_str()), (201, Some("dry")));
    let (code, _) = api
        .send(
            "PATCH",
            &format!("{one}?dryRun=All"),
            "application/merge-patch+json",
            json!({"metadata": {"labels": {"a": "b"}}}).to_string(),
        )
        .await;
    assert_eq!(code, 200);
    let r = api
        .http
        .delete(api.url(&format!("{one}?dryRun=All")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_status(&api.get(&format!("{pods}/dry")).await, 404, "not found");
    assert!(api.get(one).await.1["metadata"]["labels"]["a"].is_null());
    assert_eq!(api.last_seq().await, before, "dry runs append nothing");
    assert_status(
        &api.post(&format!("{pods}?dryRun=Some"), &pod("x", "i:1"))
            .await,
        400,
        "dryRun",
    );

    // Verbs a path does not take: 405 with a Status.
    for (method, path) in [
        ("POST", one),
        ("PUT", pods),
        ("DELETE", "/api/v1/pods"),
        ("POST", "/api/v1/namespaces"),
        ("DELETE", "/api/v1/namespaces/default"),
        ("POST", "/api/v1/namespaces/default/events"),
        ("PUT", "/api/v1/namespaces/default/configmaps"),
    ] {
        let got = api
            .send(method, path, "application/json", "{}".into())
            .await;
        assert_eq!(got.0, 405, "{method} {path}: {}", got.1);
        assert_eq!(got.1["kind"], "Status", "{method} {path}");
        assert_eq!(got.1["reason"], "MethodNotAllowed", "{method} {path}");
    }
    let ns = api
        .send(
            "POST",
            "/api/v1/namespaces",
            "application/json",
            "{}".into(),
        )
        .await;
    assert!(
        ns.1["message"]
            .as_str()
            .unwrap()
            .contains("create one in the namespace")
    );

    // Events: list and one by name.
    let (_, list) = api.get("/api/v1/namespaces/default/events").await;
    assert_eq!(list["kind"], "EventList");
    let name = list["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, event) = api
        .get(&format!("/api/v1/namespaces/default/events/{name}"))
        .await;
    assert_eq!((code, event["kind"].as_str()), (200, Some("Event")));
    assert_status(
        &api.get("/api/v1/namespaces/default/events/nope").await,
        404,
        "not found",
    );

    // DeleteOptions: a precondition on another uid is a conflict and deletes nothing.
    let options = json!({"kind": "DeleteOptions", "apiVersion": "v1",
        "preconditions": {"uid": "someone-else"}});
    let r = api
        .http
        .delete(api.url(one))
        .header("content-type", "application/json")
        .body(options.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let uid = created["metadata"]["uid"].as_str().unwrap();
    let options = json!({"propagationPolicy": "Background", "preconditions": {"uid": uid}});
    let r = api
        .http
        .delete(api.url(one))
        .header("content-type", "application/json")
        .body(options.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let gone: Value = r.json().await.unwrap();
    assert_eq!(
        (gone["kind"].as_str(), gone["metadata"]["uid"].as_str()),
        (Some("Pod"), Some(uid))
    );
    let bad = api
        .http
        .delete(api.url(one))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_status(&api.get(one).await, 404, "not found");
    api.stop().await;
}

// API-6: namespaces are derived from pods, ConfigMaps and `default`.
#[actix_rt::test]
async fn namespaces_are_derived_from_pods_and_configmaps() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, v) = api.get("/api/v1/namespaces").await;
    assert_eq!(v["kind"], "NamespaceList");
    assert_eq!(names(&v), ["default"]);
    assert_eq!(
        api.post("/api/v1/namespaces/apps/pods", &pod("a", "i"))
            .await
            .0,
        201
    );
    let cm = json!({"metadata": {"name": "c"}, "data": {}});
    assert_eq!(
        api.post("/api/v1/namespaces/conf/configmaps", &cm).await.0,
        201
    );
    let (_, v) = api.get("/api/v1/namespaces").await;
    assert_eq!(names(&v), ["apps", "conf", "default"]);
    let (code, ns) = api.get("/api/v1/namespaces/conf").await;
    assert_eq!(code, 200);
    assert_eq!(ns["kind"], "Namespace");
    assert_eq!(ns["status"]["phase"], "Active");
    assert_status(&api.get("/api/v1/namespaces/zz").await, 404, "not found");
    api.stop().await;
}

// §3.7: Kubernetes Events derived from the log, filterable the way `kubectl describe` asks.
#[actix_rt::test]
async fn events_tell_each_pods_story() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    let (_, web) = api
        .post("/api/v1/namespaces/default/pods", &pod("web", "img:v1"))
        .await;
    let uid = web["metadata"]["uid"].as_str().unwrap().to_string();
    assert_eq!(
        api.post("/api/v1/namespaces/default/pods", &pod("db", "img:v1"))
            .await
            .0,
        201
    );
    // A watch on web's events: its Scheduled first, then what the engine facts produce.
    let resp = api
        .http
        .get(api.url(
            "/api/v1/namespaces/default/events?watch=true&fieldSelector=involvedObject.name%3Dweb",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let first = lines(&mut stream, &mut buf, 1).await;
    assert_eq!(first[0]["type"], "ADDED");
    assert_eq!(first[0]["object"]["reason"], "Scheduled");
    let s = |x: &str| x.to_string();
    for e in [
        PodsEvent::ContainerCreated {
            namespace: s("default"),
            name: s("web"),
            container: s("c"),
            device_name: s("default_web_c"),
            device_id: s("*1"),
            adopted: false,
        },
        PodsEvent::ContainerStarted {
            namespace: s("default"),
            name: s("web"),
            container: s("c"),
        },
        PodsEvent::PodCreateFailed {
            namespace: s("default"),
            name: s("db"),
            reason: s("no space left"),
            waiting_reason: String::new(),
        },
    ] {
        record(&api, e).await;
    }
    assert_eq!(
        api.http
            .delete(api.url("/api/v1/namespaces/default/pods/web"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let watched = lines(&mut stream, &mut buf, 4).await;
    let reasons: Vec<&str> = watched
        .iter()
        .map(|l| l["object"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["Pulling", "Created", "Started", "Killing"]);
    drop(stream);
    let (_, all) = api.get("/api/v1/events").await;
    assert_eq!(all["kind"], "EventList");
    let story = |v: &Value| -> Vec<(String, String)> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["involvedObject"]["name"].as_str().unwrap().to_string(),
                    e["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let s2 = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        story(&all),
        [
            s2("web", "Scheduled"),
            s2("db", "Scheduled"),
            s2("web", "Pulling"),
            s2("web", "Created"),
            s2("web", "Started"),
            s2("db", "CreateFailed"),
            s2("web", "Killing"),
        ]
    );
    let failed = &all["items"][5];
    assert_eq!(failed["type"], "Warning");
    assert_eq!(failed["message"], "no space left");
    assert_eq!(failed["source"]["component"], "mkube");
    // What `kubectl describe pod web` asks for.
    let q = format!(
        "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dweb%2CinvolvedObject.namespace%3Ddefault%2CinvolvedObject.uid%3D{uid}"
    );
    let (code, mine) = api.get(&q).await;
    assert_eq!(code, 200);
    assert_eq!(story(&mine).len(), 5);
    let (_, other) = api.get("/api/v1/namespaces/other/events").await;
    assert_eq!(other["items"], json!([]));
    assert_status(
        &api.get("/api/v1/events?fieldSelector=bogus%3D1").await,
        400,
        "field label not supported",
    );
    let t = api
        .http
        .get(api.url("/api/v1/events"))
        .header("accept", TABLE)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["rows"][0]["cells"][3], "pod/web");
    api.stop().await;
}

// §9 pod log: without a device 503; unknown pod 404; unknown container 400.
#[actix_rt::test]
async fn pod_log_needs_a_device() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    assert!(api.cluster.routeros.is_none(), "tests never reach a device");
    assert_eq!(
        api.post("/api/v1/namespaces/default/pods", &pod("web", "i"))
            .await
            .0,
        201
    );
    assert_status(
        &api.get("/api/v1/namespaces/default/pods/web/log").await,
        503,
        "no RouterOS device",
    );
    assert_status(
        &api.get("/api/v1/namespaces/default/pods/web/log?container=zz")
            .await,
        400,
        "not valid",
    );
    assert_status(
        &api.get("/api/v1/namespaces/default/pods/nope/log").await,
        404,
        "not found",
    );
    api.stop().await;
}

/// A test config whose `api:` block gets `extra` lines; the NATS URL is filled in later.
fn api_block(extra: String) -> impl Fn(&str) -> String {
    move |listen: &str| {
        common::mkube::config_text(common::cluster::NODE, "NATS", listen, "").replace(
            &format!("  listen: {listen}\n"),
            &format!("  listen: {listen}\n{extra}"),
        )
    }
}

// api.tokenFile: every route but /healthz and /readyz needs the bearer token (401 Status).
#[actix_rt::test]
async fn bearer_token_guards_every_route_but_health() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "  t0ken\n").unwrap();
    let text = api_block(format!("  tokenFile: {}\n", token.display()));
    let url = nats.url();
    let mk =
        common::mkube::MkubeProcess::start_config(dir.path(), |l| text(l).replace("NATS", &url));
    let http = common::http();
    mk.wait_ready(&http).await;
    assert_eq!(
        mk.get_text(&http, "/healthz").await.lines().next(),
        Some("ok")
    );
    for path in [
        "/api",
        "/api/v1",
        "/version",
        "/openapi/v3",
        "/api/v1/pods",
        "/api/v1/namespaces",
        "/api/v1/log",
        "/metrics",
        "/nowhere",
    ] {
        for auth in [
            None,
            Some("Bearer wrong"),
            Some("t0ken"),
            Some("Basic t0ken"),
        ] {
            let mut req = http.get(mk.url(path));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 401, "{path} {auth:?}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["kind"], "Status");
            assert_eq!(body["reason"], "Unauthorized");
        }
        let r = http
            .get(mk.url(path))
            .bearer_auth("t0ken")
            .send()
            .await
            .unwrap();
        let expected = if path == "/nowhere" { 404 } else { 200 };
        assert_eq!(r.status(), expected, "{path}");
    }
    // The console's files hold no data and load without the token (it asks for it), under
    // a strict Content-Security-Policy (issue 18).
    for (path, ctype) in [
        ("/ui/", "text/html"),
        ("/ui/console.js", "text/javascript"),
        ("/ui/console.css", "text/css"),
    ] {
        let r = http.get(mk.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with(ctype),
            "{path}"
        );
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"));
        assert_eq!(h["x-content-type-options"], "nosniff");
    }
    assert_eq!(
        http.get(mk.url("/ui/x.js")).send().await.unwrap().status(),
        404
    );
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect.get(mk.url("/ui")).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), &r.headers()["location"]),
        (301, &"/ui/".parse().unwrap())
    );
    // Writes too.
    let r = http
        .post(mk.url("/api/v1/namespaces/default/pods"))
        .json(&pod("web", "i"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(mk.url("/api/v1/namespaces/default/pods"))
        .bearer_auth("t0ken")
        .json(&pod("web", "i"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

// api.tlsCert/tlsKey: the listener speaks TLS (rustls) and nothing else.
#[actix_rt::test]
async fn tls_listener_serves_the_api_over_https_only() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.path().join("api.crt"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("api.key"), key.serialize_pem()).unwrap();
    let text = api_block(format!(
        "  tlsCert: {}\n  tlsKey: {}\n",
        dir.path().join("api.crt").display(),
        dir.path().join("api.key").display()
    ));
    let url = nats.url();
    let mk =
        common::mkube::MkubeProcess::start_config(dir.path(), |l| text(l).replace("NATS", &url));
    let https = mk.base.replace("http://", "https://");
    // Verified against the certificate itself, so the handshake really is this server's.
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(mkube::tls::client_config(false, &[cert.pem().as_bytes()]).unwrap())
        .build()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let r = client.get(format!("{https}/api/v1")).send().await;
        if let Ok(r) = r
            && r.status() == 200
        {
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["kind"], "APIResourceList");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", mk.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Plain HTTP on the TLS port gets no API answer.
    let plain = common::http().get(mk.url("/api/v1")).send().await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
}

// A token file or TLS pair that cannot be used stops `mkube run` with a message naming it.
#[test]
fn unusable_api_security_files_stop_startup() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let cert = dir.path().join("c.pem");
    std::fs::write(&cert, "not a certificate").unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let cases = [
        (format!("  tokenFile: {}\n", missing.display()), "tokenFile"),
        (format!("  tokenFile: {}\n", empty.display()), "is empty"),
        (
            format!(
                "  tlsCert: {}\n  tlsKey: {}\n",
                cert.display(),
                missing.display()
            ),
            "tls",
        ),
    ];
    for (extra, needle) in cases {
        let port = common::nats::free_port();
        let listen = format!("127.0.0.1:{port}");
        let text = api_block(extra.clone())(&listen).replace("NATS", "nats://127.0.0.1:9");
        let config = dir.path().join("config.yaml");
        std::fs::write(&config, text).unwrap();
        let out = std::process::Command::new(common::mkube::bin())
            .args(["run", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{extra}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }
}

// The ConfigMaps area: each kind round-trips through the envelope codec on its object's subject.
#[test]
fn configmap_events_round_trip_on_their_subject() {
    use mkube::events::{Envelope, subject};
    for event in common::samples::configmaps() {
        let env = Envelope::new("rose1", "configmaps", "c", event.clone());
        let back = Envelope::decode(&env.encode(), 1).expect("decodes");
        assert_eq!(back.event, event);
        assert_eq!(back.kind(), common::samples::kind_name(&event));
        assert_eq!(
            subject::for_event("rose1", &event),
            "mkube.rose1.configmaps.default.app-config"
        );
    }
}

// ConfigMaps are state like any other: replayed into a fresh boot, and into snapshots.
#[actix_rt::test]
async fn configmaps_are_replayed_on_boot() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    for event in common::samples::configmaps().into_iter().take(1) {
        common::cluster::record(&api.cluster, event, "t").await;
    }
    let seq = api.cluster.snapshotter.flush().await.expect("snapshot");
    assert_eq!(seq, 1);
    api.stop().await;
    let again = common::cluster::boot(&common::cluster::config(&nats.url())).await;
    let state = again
        .configmaps_published
        .read(&again.configmaps)
        .await
        .unwrap()
        .state;
    assert_eq!(
        state.config_maps["default/app-config"]
            .data
            .as_ref()
            .unwrap()["app.conf"],
        "port = 80\n"
    );
}

// Cluster.routeros: a device that accepts connections but never answers does not stop boot;
// the cluster comes up without it (and the pod log then says 503).
#[actix_rt::test]
async fn an_unresponsive_device_does_not_stop_boot() {
    let nats = NatsServer::start();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = common::cluster::config(&nats.url());
    config.routeros.rest_url = format!("http://{}/rest", silent.local_addr().unwrap());
    let started = std::time::Instant::now();
    let cluster = common::cluster::boot(&config).await;
    assert!(cluster.routeros.is_none());
    assert!(started.elapsed() < Duration::from_secs(15));
    drop(silent);
}
