//! The networks and allocations endpoints (controller.md §9) against a real engine: what the
//! configuration says of each network and what IPAM handed out, 404 for an unknown network,
//! 405 for other methods.

use crate::common::api::{Api, assert_status};
use crate::engine_support::*;
use serde_json::json;

#[actix_rt::test]
async fn networks_and_allocations_show_config_and_ipam() {
    let env = env().await;
    let api = Api::start_with(env.cfg.clone()).await;
    declare_created(&api.cluster, pod("web", &[])).await;

    let (code, list) = api.get("/api/v1/networks").await;
    assert_eq!(code, 200);
    // The configuration, the zone, and the dynamic range's usage (one address held).
    assert_eq!(
        list[0],
        json!({"name": "t", "bridge": "t", "cidr": "127.77.0.0/24", "gateway": "127.77.0.1",
               "dnsZone": "t.lo",
               "ipam": {"first": "127.77.0.100", "last": "127.77.0.102", "size": 3, "used": 1,
                        "free": 2, "freeRuns": [["127.77.0.101", "127.77.0.102"]]}})
    );
    assert_eq!(list.as_array().unwrap().len(), env.cfg.networks.len());

    let (code, t) = api.get("/api/v1/networks/t").await;
    assert_eq!(code, 200, "{t}");
    assert_eq!(t["name"], "t");
    let port = json!({"name": "veth_default_web_0", "ip": "127.77.0.100", "hostname": "app.web"});
    assert_eq!(t["ports"], json!([port]));
    assert_eq!(api.get("/api/v1/networks/t/ports").await.1, json!([port]));
    assert_eq!(api.get("/api/v1/networks/u/ports").await.1, json!([]));
    assert_eq!(
        api.get("/api/v1/allocations").await.1,
        json!({"veth_default_web_0": "127.77.0.100"})
    );

    assert_status(&api.get("/api/v1/networks/nope").await, 404, "not found");
    assert_status(
        &api.get("/api/v1/networks/nope/ports").await,
        404,
        "not found",
    );
    for (method, path) in [
        ("POST", "/api/v1/networks"),
        ("DELETE", "/api/v1/networks/t"),
        ("PUT", "/api/v1/networks/t/ports"),
        ("POST", "/api/v1/allocations"),
    ] {
        let got = api
            .send(method, path, "application/json", "{}".into())
            .await;
        assert_eq!(got.0, 405, "{method} {path}");
        assert_eq!(got.1["reason"], "MethodNotAllowed");
    }
    api.stop().await;
}
