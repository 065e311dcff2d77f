//! Admission before anything is appended (controller.md §1.2 annotations, IPAM-3 static IPs,
//! IPAM-8 multi-container static IPs, unsupported exec probes), and malformed input on every
//! write route. Every rejection is a `v1.Status` naming the field, and the log does not grow.

use crate::common;

use common::NatsServer;
use common::api::{Api, assert_status};
use serde_json::{Value, json};

fn pod_with(annotations: Value, containers: Value) -> Value {
    json!({
        "metadata": {"name": "p", "annotations": annotations},
        "spec": {"containers": containers}
    })
}

fn one() -> Value {
    json!([{"name": "c", "image": "img:v1"}])
}

const PODS: &str = "/api/v1/namespaces/default/pods";
const IP: &str = "metadata.annotations[vkube.io/static-ip]";

#[actix_rt::test]
async fn annotations_and_spec_are_admitted_before_the_log() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    // A pod holding a static IP in network t (127.77.0.0/24, gateway .1).
    let holder = json!({
        "metadata": {"name": "holder", "annotations": {"vkube.io/static-ip": "127.77.0.50"}},
        "spec": {"containers": one()}
    });
    assert_eq!(api.post(PODS, &holder).await.0, 201);
    let before = api.last_seq().await;
    assert_eq!(before, 1);

    let cases: Vec<(Value, Value, &str)> = vec![
        // §1.2 unknown network.
        (
            json!({"vkube.io/network": "nope"}),
            one(),
            "metadata.annotations[vkube.io/network]: network \"nope\" not found",
        ),
        // IPAM-3: not IPv4, outside the subnet, network address, gateway, held by another pod.
        (json!({"vkube.io/static-ip": "not-an-ip"}), one(), IP),
        (
            json!({"vkube.io/static-ip": "::1"}),
            one(),
            "not an IPv4 address",
        ),
        (
            json!({"vkube.io/static-ip": "10.0.0.5"}),
            one(),
            "not a host address",
        ),
        (
            json!({"vkube.io/static-ip": "127.77.0.0"}),
            one(),
            "not a host address",
        ),
        (
            json!({"vkube.io/static-ip": "127.77.0.255"}),
            one(),
            "not a host address",
        ),
        (
            json!({"vkube.io/static-ip": "127.77.0.1"}),
            one(),
            "gateway",
        ),
        (
            json!({"vkube.io/static-ip": "127.77.0.50"}),
            one(),
            "already allocated to pod default/holder",
        ),
        // The static IP is checked against the pod's own network (u is 127.78.0.0/24).
        (
            json!({"vkube.io/network": "u", "vkube.io/static-ip": "127.77.0.60"}),
            one(),
            "not a host address of network \"u\"",
        ),
        // IPAM-8: a static IP on a multi-container pod is rejected at admission.
        (
            json!({"vkube.io/static-ip": "127.77.0.61"}),
            json!([{"name": "a", "image": "i"}, {"name": "b", "image": "i"}]),
            "IPAM-8",
        ),
        // §1.2 boot priority must be an integer.
        (
            json!({"vkube.io/boot-priority": "soon"}),
            one(),
            "metadata.annotations[vkube.io/boot-priority]",
        ),
        // Spec: containers required, valid and unique names, an image, no exec probes.
        (json!({}), json!([]), "spec.containers: Required value"),
        (
            json!({}),
            json!([{"name": "Web_1", "image": "i"}]),
            "spec.containers[0].name",
        ),
        (
            json!({}),
            json!([{"name": "a", "image": "i"}, {"name": "a", "image": "i"}]),
            "spec.containers[1].name: Duplicate value",
        ),
        (
            json!({}),
            json!([{"name": "a"}]),
            "spec.containers[0].image",
        ),
        (
            json!({}),
            json!([{"name": "a", "image": "i", "livenessProbe": {"exec": {"command": ["true"]}}}]),
            "spec.containers[0].livenessProbe.exec: Unsupported value",
        ),
        (
            json!({}),
            json!([{"name": "a", "image": "i", "startupProbe": {"exec": {"command": ["true"]}}}]),
            "spec.containers[0].startupProbe.exec",
        ),
    ];
    for (annotations, containers, needle) in cases {
        let got = api
            .post(PODS, &pod_with(annotations.clone(), containers))
            .await;
        assert_status(&got, 422, needle);
        assert_eq!(got.1["reason"], "Invalid", "{annotations}");
    }
    assert_status(
        &api.post(PODS, &json!({"metadata": {"name": "nospec"}}))
            .await,
        422,
        "spec: Required value",
    );
    assert_eq!(api.last_seq().await, before, "nothing appended");

    // What is valid is admitted: a static IP in network u, an integer priority, httpGet probes.
    let ok = json!({
        "metadata": {"name": "ok", "annotations": {
            "vkube.io/network": "u", "vkube.io/static-ip": "127.78.0.60",
            "vkube.io/boot-priority": "-5"}},
        "spec": {"containers": [{"name": "c", "image": "i",
            "livenessProbe": {"httpGet": {"path": "/", "port": 80}}}]}
    });
    assert_eq!(api.post(PODS, &ok).await.0, 201);
    // An update keeps its own static IP without conflicting with itself…
    let mut same = holder.clone();
    same["spec"]["containers"][0]["image"] = json!("img:v2");
    let put = api
        .send(
            "PUT",
            "/api/v1/namespaces/default/pods/holder",
            "application/json",
            same.to_string(),
        )
        .await;
    assert_eq!(put.0, 200, "{}", put.1);
    // …and is admitted like a create (here: patched onto another pod's address).
    let seq = api.last_seq().await;
    let stolen = api
        .send(
            "PATCH",
            "/api/v1/namespaces/default/pods/ok",
            "application/merge-patch+json",
            json!({"metadata": {"annotations": {"vkube.io/network": null, "vkube.io/static-ip": "127.77.0.50"}}})
                .to_string(),
        )
        .await;
    assert_status(&stolen, 422, "already allocated to pod default/holder");
    assert_eq!(api.last_seq().await, seq);
    api.stop().await;
}

/// Every write route with malformed input: 400/413/415 `Status`, nothing appended.
#[actix_rt::test]
async fn malformed_bodies_on_every_write_route_append_nothing() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    let good_pod = json!({"metadata": {"name": "web"}, "spec": {"containers": one()}});
    let good_cm = json!({"metadata": {"name": "cfg"}, "data": {"k": "v"}});
    assert_eq!(api.post(PODS, &good_pod).await.0, 201);
    let cms = "/api/v1/namespaces/default/configmaps";
    assert_eq!(api.post(cms, &good_cm).await.0, 201);
    let before = api.last_seq().await;

    let pod_one = "/api/v1/namespaces/default/pods/web";
    let cm_one = "/api/v1/namespaces/default/configmaps/cfg";
    let json_ct = "application/json";
    let merge = "application/merge-patch+json";
    let routes = [
        ("POST", PODS, json_ct, "Pod"),
        ("PUT", pod_one, json_ct, "Pod"),
        ("PATCH", pod_one, merge, "Pod"),
        ("POST", cms, json_ct, "ConfigMap"),
        ("PUT", cm_one, json_ct, "ConfigMap"),
        ("PATCH", cm_one, merge, "ConfigMap"),
    ];
    for (method, path, ct, kind) in routes {
        let what = format!("{method} {path}");
        let send = |body: String| api.send(method, path, ct, body);
        for junk in ["{not json", "", "[1,2]", "\"text\"", "null"] {
            let got = send(junk.into()).await;
            assert_eq!(got.0, 400, "{what} {junk:?}: {}", got.1);
            assert_eq!(got.1["kind"], "Status");
        }
        let name = if kind == "Pod" { "web" } else { "cfg" };
        let wrong_kind = json!({"kind": "Secret", "apiVersion": "v1", "metadata": {"name": name}});
        assert_status(&send(wrong_kind.to_string()).await, 400, "is not");
        let wrong_version =
            json!({"kind": kind, "apiVersion": "apps/v1", "metadata": {"name": name}});
        assert_status(&send(wrong_version.to_string()).await, 400, "apiVersion");
        let unknown = if kind == "Pod" {
            json!({"metadata": {"name": name}, "spec": {"containers": one(), "bogus": 1}})
        } else {
            json!({"metadata": {"name": name}, "dta": {"k": "v"}})
        };
        assert_status(&send(unknown.to_string()).await, 400, "unknown field");
        let wrong_type = json!({"metadata": {"name": 5}});
        assert_status(&send(wrong_type.to_string()).await, 400, "invalid");
        let huge = format!(
            "{{\"metadata\": {{\"name\": \"{}\"}}}}",
            "a".repeat(1 << 20)
        );
        assert_status(&send(huge).await, 413, "larger than");
        let bad_validation = api
            .send(
                method,
                &format!("{path}?fieldValidation=Maybe"),
                ct,
                "{}".into(),
            )
            .await;
        assert_status(&bad_validation, 400, "fieldValidation");
    }
    // ConfigMap specifics: a name is required, data keys must be valid.
    assert_status(
        &api.post(cms, &json!({"metadata": {}, "data": {}})).await,
        400,
        "configmap name is required",
    );
    assert_status(
        &api.post(
            cms,
            &json!({"metadata": {"name": "x"}, "data": {"a/b": "v"}}),
        )
        .await,
        422,
        "data[a/b]",
    );
    assert_status(
        &api.post(cms, &json!({"metadata": {"name": "Bad_Name"}}))
            .await,
        400,
        "RFC 1123 subdomain",
    );
    // Patch media types other than merge/strategic are refused.
    assert_status(
        &api.send("PATCH", cm_one, "application/json-patch+json", "[]".into())
            .await,
        415,
        "unknown format",
    );
    assert_status(
        &api.send("PATCH", pod_one, "text/plain", "{}".into()).await,
        415,
        "unknown format",
    );
    // Selectors that do not parse.
    assert_status(
        &api.get("/api/v1/pods?labelSelector=a%20in%20(b)").await,
        400,
        "labelSelector",
    );
    assert_status(
        &api.get("/api/v1/pods?fieldSelector=nonsense").await,
        400,
        "fieldSelector",
    );
    // Watch parameters that do not parse (API-3) are refused before any stream starts.
    for query in [
        "/api/v1/pods?watch=true&timeoutSeconds=-1",
        "/api/v1/pods?watch=true&resourceVersion=x",
        "/api/v1/configmaps?watch=true&resourceVersion=1.x",
        "/api/v1/namespaces/default/pods?watch=true&fieldSelector=spec.bogus%3D1",
        "/api/v1/events?watch=true&fieldSelector=nope%3D1",
    ] {
        let got = api.get(query).await;
        assert_eq!(got.0, 400, "{query}: {}", got.1);
        assert_eq!(got.1["kind"], "Status", "{query}");
    }
    assert_eq!(api.last_seq().await, before, "nothing appended");

    // fieldValidation=Ignore admits unknown fields (and drops them).
    let lenient =
        json!({"metadata": {"name": "lenient"}, "spec": {"containers": one(), "bogus": 1}});
    let got = api
        .send(
            "POST",
            &format!("{PODS}?fieldValidation=Ignore"),
            json_ct,
            lenient.to_string(),
        )
        .await;
    assert_eq!(got.0, 201, "{}", got.1);
    assert!(got.1["spec"].get("bogus").is_none());
    api.stop().await;
}

// Issue 11 item 2: what a Kubernetes API server defaults is stored and returned; values the
// user gave are kept.
#[actix_rt::test]
async fn kubernetes_defaults_are_stored_and_returned() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    let bare = json!({
        "metadata": {"name": "bare"},
        "spec": {"containers": [{
            "name": "c",
            "image": "registry.lo:5000/app",
            "ports": [{"containerPort": 80}],
            "readinessProbe": {"httpGet": {"port": 80}}
        }]}
    });
    let (code, created) = api.post(PODS, &bare).await;
    assert_eq!(code, 201, "{created}");
    let (_, got) = api.get(&format!("{PODS}/bare")).await;
    for pod in [&created, &got] {
        let spec = &pod["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        let c = &spec["containers"][0];
        assert_eq!(c["imagePullPolicy"], "Always", "untagged image");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        let probe = &c["readinessProbe"];
        assert_eq!(
            (
                &probe["timeoutSeconds"],
                &probe["periodSeconds"],
                &probe["successThreshold"],
                &probe["failureThreshold"]
            ),
            (&json!(1), &json!(10), &json!(1), &json!(3))
        );
        assert_eq!(probe["httpGet"]["scheme"], "HTTP");
        assert_eq!(probe["httpGet"]["path"], "/");
    }
    // The stored event holds the defaulted pod (replay gives the same).
    let log = api.cluster.log.clone();
    let last = log.last_sequence().await.unwrap();
    let mut fold = mkube::actors::cluster::Fold::default();
    mkube::actors::replay::fold_log(&log, &mut fold, last, |_, _| {
        mkube::actors::replay::Visit::Continue
    })
    .await
    .unwrap();
    let stored = &fold.state.pods.pods["default/bare"].pod;
    assert_eq!(
        stored.spec.as_ref().unwrap().restart_policy.as_deref(),
        Some("Always")
    );

    let given = json!({
        "metadata": {"name": "given"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "app:v2", "imagePullPolicy": "Never"}]}
    });
    let (_, created) = api.post(PODS, &given).await;
    assert_eq!(created["spec"]["restartPolicy"], "Never");
    assert_eq!(created["spec"]["containers"][0]["imagePullPolicy"], "Never");
    api.stop().await;
}

// Issue 11 item 1: env that mkube cannot provide is refused at admission, naming the field.
#[actix_rt::test]
async fn env_mkube_cannot_provide_is_refused() {
    let nats = NatsServer::start();
    let api = Api::start(&nats.url()).await;
    let with_env = |env: Value, env_from: Value| {
        json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "i:1", "env": env, "envFrom": env_from}]}
        })
    };
    let cases = [
        (
            json!([{"name": "A=B", "value": "x"}]),
            json!([]),
            "spec.containers[0].env[0].name",
        ),
        (
            json!([{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]),
            json!([]),
            "spec.containers[0].env[0].valueFrom.secretKeyRef: Unsupported value",
        ),
        (
            json!([{"name": "S", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}}]),
            json!([]),
            "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value",
        ),
        (
            json!([{"name": "S", "value": "v", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}]),
            json!([]),
            "spec.containers[0].env[0].valueFrom",
        ),
        (
            json!([]),
            json!([{"secretRef": {"name": "s"}}]),
            "spec.containers[0].envFrom[0].secretRef",
        ),
    ];
    let before = api.last_seq().await;
    for (env, env_from, needle) in cases {
        assert_status(&api.post(PODS, &with_env(env, env_from)).await, 422, needle);
    }
    assert_eq!(api.last_seq().await, before, "nothing appended");
    let ok = with_env(
        json!([{"name": "GREETING", "value": "hello"}, {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]),
        json!([{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}]),
    );
    assert_eq!(api.post(PODS, &ok).await.0, 201);
    api.stop().await;
}
