//! REST conventions of the simulator: auth, verbs, ids, filters, errors, menus
//! (spec routeros-rest.md §1, §4, §5.1 items 1–5, 10).

use crate::sim_common;

use mkube::sim::routeros::Profile;
use serde_json::{Value, json};
use sim_common::{s, start, start_profile};

#[actix_rt::test]
async fn auth_json_and_unknown_commands() {
    let sim = start(Profile::V7_22).await;
    let url = format!("{}/system/resource", sim.sim.rest_url());
    // §5.1-1: Basic auth on every request.
    let r = sim.http.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], 401);
    let r = sim
        .http
        .get(&url)
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // §1.5, §4.9: singleton object, all strings.
    let (st, res) = sim.get("/system/resource").await;
    assert_eq!(st, 200);
    assert_eq!(s(&res, "version"), "7.22.2 (stable)");
    assert_eq!(s(&res, "architecture-name"), "arm64");
    assert_eq!(s(&res, "board-name"), "RDS2216");
    assert_eq!(s(&res, "cpu-count"), "4");
    assert!(res.as_object().unwrap().values().all(|v| v.is_string()));
    // §1.4 / §4.8: non-JSON bodies → 415.
    let r = sim
        .http
        .post(format!("{}/file/add", sim.sim.rest_url()))
        .basic_auth("admin", Some(""))
        .header("content-type", "application/octet-stream")
        .body("raw")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    // §1.8: 406 for unknown commands and menus, exact error shape.
    let (st, v) = sim.post("/container/frobnicate", json!({})).await;
    assert_eq!(st, 406);
    assert_eq!(
        v,
        json!({"error":406,"message":"Not Acceptable","detail":"no such command or directory (frobnicate)"})
    );
    let (st, _) = sim.get("/nosuch/menu").await;
    assert_eq!(st, 406);
    // 404 for an unknown id, without detail.
    let (st, v) = sim.get("/interface/veth/*FFFF").await;
    assert_eq!(st, 404);
    assert_eq!(v, json!({"error":404,"message":"Not Found"}));
    sim.stop().await;
}

#[actix_rt::test]
async fn unknown_parameters_follow_the_profile() {
    // §1.12: 7.22 has mountlists/list, 7.19 has mounts/name.
    let sim = start(Profile::V7_22).await;
    let (st, v) = sim
        .post("/container/add", json!({"remote-image":"x","mounts":"a"}))
        .await;
    assert_eq!(st, 400);
    assert_eq!(s(&v, "detail"), "unknown parameter mounts");
    let (st, v) = sim
        .post(
            "/container/mounts/add",
            json!({"name":"a","src":"s","dst":"/d"}),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(s(&v, "detail"), "unknown parameter name");
    let (st, v) = sim.post("/container/start", json!({"number":"*1"})).await;
    assert_eq!((st, s(&v, "detail")), (400, "unknown parameter number"));
    sim.ok(
        "/container/mounts/add",
        json!({"list":"a","src":"s","dst":"/d"}),
    )
    .await;
    sim.stop().await;

    let sim = start_profile("7.19").await;
    let (st, v) = sim
        .post(
            "/container/add",
            json!({"remote-image":"x","mountlists":"a"}),
        )
        .await;
    assert_eq!((st, s(&v, "detail")), (400, "unknown parameter mountlists"));
    let (st, v) = sim
        .post(
            "/container/envs/add",
            json!({"list":"a","key":"k","value":"v"}),
        )
        .await;
    assert_eq!((st, s(&v, "detail")), (400, "unknown parameter list"));
    sim.ok(
        "/container/envs/add",
        json!({"name":"a","key":"k","value":"v"}),
    )
    .await;
    let (st, v) = sim.post("/container/start", json!({"numbers":"*1"})).await;
    assert_eq!((st, s(&v, "detail")), (400, "unknown parameter numbers"));
    let (_, res) = sim.get("/system/resource").await;
    assert!(s(&res, "version").starts_with("7.19"));
    sim.stop().await;
}

#[actix_rt::test]
async fn ids_numbers_filters_and_queries() {
    let sim = start(Profile::V7_22).await;
    // §1.6: ids are *HEX, monotonic, shared by interfaces, never reused.
    let a = sim
        .ok(
            "/interface/veth/add",
            json!({"name":"va","address":"10.0.0.2/24","gateway":"10.0.0.1"}),
        )
        .await;
    let b = sim
        .ok(
            "/interface/veth/add",
            json!({"name":"vb","address":"10.0.0.3/24","gateway":"10.0.0.1"}),
        )
        .await;
    let ida = s(&a, "ret").to_string();
    let idb = s(&b, "ret").to_string();
    assert!(ida.starts_with('*') && idb.starts_with('*'));
    let n = |id: &str| u64::from_str_radix(&id[1..], 16).unwrap();
    assert!(n(&idb) > n(&ida));
    assert_eq!(idb, idb.to_uppercase());
    // GET one by id (raw and %2A) and by name.
    let (st, row) = sim.get(&format!("/interface/veth/{ida}")).await;
    assert_eq!((st, s(&row, "name")), (200, "va"));
    let (st, row) = sim.get(&format!("/interface/veth/%2A{}", &ida[1..])).await;
    assert_eq!((st, s(&row, "name")), (200, "va"));
    let (st, row) = sim.get("/interface/veth/vb").await;
    assert_eq!((st, s(&row, ".id")), (200, idb.as_str()));
    // §1.6: a name replaces the id in the generic /interface menu too.
    let (st, row) = sim.get("/interface/vb").await;
    assert_eq!(
        (st, s(&row, "type"), s(&row, ".id")),
        (200, "veth", idb.as_str())
    );
    // §1.7 query-string filters (ANDed) and .proplist.
    let (_, rows) = sim.get("/interface/veth?name=va&gateway=10.0.0.1").await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
    let (_, rows) = sim.get("/interface/veth?name=va&gateway=nope").await;
    assert_eq!(rows, json!([]));
    let (_, rows) = sim.get("/interface/veth?.proplist=name,.id").await;
    let first = rows[0].as_object().unwrap();
    assert_eq!(first.len(), 2);
    // POST print with .query RPN and .proplist array.
    let (_, rows) = sim
        .post(
            "/interface/veth/print",
            json!({".proplist":["name"],".query":["name=va","name=vb","#|"]}),
        )
        .await;
    assert_eq!(rows, json!([{"name":"va"},{"name":"vb"}]));
    let (_, rows) = sim
        .post("/interface/veth/print", json!({".query":["name=va","#!"]}))
        .await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
    // PATCH / PUT / DELETE verbs (§1.3).
    let r = sim
        .http
        .patch(format!("{}/interface/veth/{ida}", sim.sim.rest_url()))
        .basic_auth("admin", Some(""))
        .json(&json!({"comment":"x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let row: Value = r.json().await.unwrap();
    assert_eq!(s(&row, "comment"), "x");
    let (st, row) = sim
        .rest(
            "PUT",
            "/interface/veth",
            Some(json!({"name":"vc","address":"10.0.0.4/24"})),
        )
        .await;
    assert_eq!((st, s(&row, "name")), (200, "vc"));
    let (st, _) = sim.rest("DELETE", "/interface/veth/vc", None).await;
    assert_eq!(st, 200);
    // numbers with a comma list of id and name.
    sim.ok(
        "/interface/veth/remove",
        json!({"numbers": format!("{ida},vb")}),
    )
    .await;
    let (_, rows) = sim.get("/interface/veth").await;
    assert_eq!(rows, json!([]));
    let (st, v) = sim
        .post("/interface/veth/remove", json!({"numbers":"va"}))
        .await;
    assert_eq!((st, s(&v, "detail")), (400, "no such item"));
    // A new row never reuses an id.
    let c = sim.ok("/interface/veth/add", json!({"name":"va"})).await;
    assert!(n(s(&c, "ret")) > n(&idb));
    sim.stop().await;
}

#[actix_rt::test]
async fn veth_bridge_port_and_mount_rules() {
    let sim = start(Profile::V7_22).await;
    sim.control("POST", "/seed", Some(json!({"bridges":["br0"],"addresses":[{"address":"10.9.0.1/24","interface":"br0"}],"dynamicPorts":[{"bridge":"br0","interface":"ether9"}]})))
        .await;
    let (_, addrs) = sim.get("/ip/address").await;
    assert_eq!(s(&addrs[0], "network"), "10.9.0.0");
    let v = sim
        .ok(
            "/interface/veth/add",
            json!({"name":"v1","address":"10.9.0.2/24","gateway":"10.9.0.1"}),
        )
        .await;
    let vid = s(&v, "ret").to_string();
    // §4.1 duplicate name.
    let (st, e) = sim.post("/interface/veth/add", json!({"name":"v1"})).await;
    assert_eq!(st, 400);
    assert!(s(&e, "detail").contains("already have interface"));
    let p = sim
        .ok(
            "/interface/bridge/port/add",
            json!({"bridge":"br0","interface":"v1"}),
        )
        .await;
    let pid = s(&p, "ret").to_string();
    let (_, ports) = sim.get("/interface/bridge/port?interface=v1").await;
    assert_eq!(ports.as_array().unwrap().len(), 1);
    assert_eq!(s(&ports[0], "dynamic"), "false");
    // §4.2 dynamic ports cannot be removed.
    let (_, dynp) = sim.get("/interface/bridge/port?dynamic=true").await;
    let (st, e) = sim
        .post(
            "/interface/bridge/port/remove",
            json!({".id": s(&dynp[0], ".id")}),
        )
        .await;
    assert_eq!(st, 400);
    assert!(s(&e, "detail").contains("can not remove dynamic port"));
    // §4.2 veth removal leaves the static port dangling as *hex.
    sim.ok("/interface/veth/remove", json!({".id": vid})).await;
    let (_, port) = sim.get(&format!("/interface/bridge/port/{pid}")).await;
    assert_eq!(s(&port, "interface"), vid);
    sim.ok("/interface/bridge/port/remove", json!({".id": pid}))
        .await;
    // §4.4 dst unique within a list, fine across lists.
    sim.ok(
        "/container/mounts/add",
        json!({"list":"l1","src":"raid1/a","dst":"/data"}),
    )
    .await;
    let (st, e) = sim
        .post(
            "/container/mounts/add",
            json!({"list":"l1","src":"raid1/b","dst":"/data"}),
        )
        .await;
    assert_eq!(st, 400);
    assert!(s(&e, "detail").contains("same dst already exists"));
    sim.ok(
        "/container/mounts/add",
        json!({"list":"l2","src":"raid1/a","dst":"/data"}),
    )
    .await;
    let (_, m) = sim.get("/container/mounts?list=l1").await;
    assert_eq!(m.as_array().unwrap().len(), 1);
    assert_eq!(s(&m[0], "src"), "raid1/a");
    // envs and config.
    sim.ok(
        "/container/envs/add",
        json!({"list":"e","key":"K","value":"V"}),
    )
    .await;
    let (_, e) = sim.get("/container/envs?list=e").await;
    assert_eq!(s(&e[0], "value"), "V");
    let (_, cfg) = sim.get("/container/config").await;
    assert!(cfg.get("registry-url").is_some());
    // §1.10 /ip/service set and /user/active rows.
    assert_eq!(
        sim.ok(
            "/ip/service/set",
            json!({"numbers":"www","max-sessions":"1000"})
        )
        .await,
        json!([])
    );
    let (_, www) = sim.get("/ip/service?name=www").await;
    assert_eq!(s(&www[0], "max-sessions"), "1000");
    let (_, active) = sim.get("/user/active").await;
    assert_eq!(s(&active[0], "via"), "rest-api");
    sim.stop().await;
}

#[actix_rt::test]
async fn files_add_set_remove() {
    let sim = start(Profile::V7_22).await;
    std::fs::create_dir_all(sim.disk().join("raid1")).unwrap();
    std::fs::write(sim.disk().join("raid1/.hidden"), "x").unwrap();
    sim.ok(
        "/file/add",
        json!({"name":"raid1/volumes","type":"directory"}),
    )
    .await;
    let (st, e) = sim
        .post(
            "/file/add",
            json!({"name":"raid1/volumes","type":"directory"}),
        )
        .await;
    assert_eq!(st, 400);
    assert!(s(&e, "detail").contains("already exist"));
    sim.ok(
        "/file/add",
        json!({"name":"raid1/volumes/note.txt","type":"file","contents":"hello"}),
    )
    .await;
    let (_, rows) = sim.get("/file?name=raid1/volumes/note.txt").await;
    assert_eq!(s(&rows[0], "contents"), "hello");
    assert_eq!(s(&rows[0], "size"), "5");
    let (_, all) = sim.get("/file").await;
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| s(r, "name"))
        .collect();
    assert!(names.contains(&"raid1"));
    assert!(!names.iter().any(|n| n.contains(".hidden")), "{names:?}");
    assert_eq!(s(&all[0], "type"), "disk");
    // §4.7 set renames, remove by name; no such item when missing.
    sim.ok(
        "/file/set",
        json!({"numbers":"raid1/volumes","name":"raid1/volumes.trash-1"}),
    )
    .await;
    assert!(sim.disk().join("raid1/volumes.trash-1/note.txt").exists());
    let (st, e) = sim
        .post(
            "/file/set",
            json!({"numbers":"raid1/volumes","name":"raid1/x"}),
        )
        .await;
    assert_eq!((st, s(&e, "detail")), (400, "no such item"));
    sim.ok("/file/remove", json!({"numbers":"raid1/volumes.trash-1"}))
        .await;
    assert!(!sim.disk().join("raid1/volumes.trash-1").exists());
    let (st, e) = sim
        .post("/file/remove", json!({"numbers":"raid1/volumes.trash-1"}))
        .await;
    assert_eq!((st, s(&e, "detail")), (400, "no such item"));
    sim.stop().await;
}
