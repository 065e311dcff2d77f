//! `/_control/` routes (JSON, no auth, never faulted) and the store operations shared with
//! the in-process handle.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::faults::{Fault, FaultKind};
use super::rest::{Body, Reply, record_json};
use super::shared::{ListenerCmd, Shared};
use super::store::{NewRecord, Zone};

/// Creates (or finds) a zone by name, bypassing validation; returns its id.
pub fn seed_zone(sh: &Shared, name: &str) -> String {
    let mut st = sh.store();
    if let Some(z) = st.zone_by_name(name) {
        return z.id.clone();
    }
    let z = Zone::new(name);
    let id = z.id.clone();
    st.add_zone(z);
    id
}

/// Adds a record without dedup or validation; `None` when the zone does not exist.
/// `data` is the bare value (`"10.0.0.1"`) or a full `{type, data}` object.
pub fn seed_record(
    sh: &Shared,
    zone_id: &str,
    name: &str,
    rtype: &str,
    data: Value,
    ttl: u32,
    enabled: bool,
) -> Option<String> {
    let mut st = sh.store();
    st.zone(zone_id)?;
    let full = match &data {
        Value::Object(o) if o.contains_key("type") && o.contains_key("data") => data,
        _ => json!({"type": rtype, "data": data}),
    };
    let j = st.insert_record(
        zone_id,
        NewRecord {
            name: name.to_string(),
            ttl,
            rtype: rtype.to_string(),
            data: full,
            enabled,
            health_check: Value::Null,
        },
    );
    j["id"].as_str().map(str::to_string)
}

/// Record objects of the zone named `zone_name`, in list order.
pub fn records(sh: &Shared, zone_name: &str) -> Vec<Value> {
    let st = sh.store();
    let Some(z) = st.zone_by_name(zone_name) else {
        return Vec::new();
    };
    st.zone_records(&z.id)
        .into_iter()
        .map(|r| record_json(sh.version, r))
        .collect()
}

pub fn store_json(sh: &Shared) -> Value {
    let st = sh.store();
    let zones: Vec<Value> = st
        .zones_sorted()
        .into_iter()
        .map(|z| st.zone_json(z))
        .collect();
    let records: Vec<Value> = st
        .zones_sorted()
        .into_iter()
        .flat_map(|z| st.zone_records(&z.id))
        .map(|r| record_json(sh.version, r))
        .collect();
    json!({"zones": zones, "records": records, "leases": st.leases})
}

/// The R16 backup format: `{server, network, zones: [{zone, records}]}`.
pub fn export(sh: &Shared, server: &str, network: &str) -> Value {
    let st = sh.store();
    let zones: Vec<Value> = st
        .zones_sorted()
        .into_iter()
        .map(|z| {
            let records: Vec<Value> = st
                .zone_records(&z.id)
                .into_iter()
                .map(|r| record_json(sh.version, r))
                .collect();
            json!({"zone": st.zone_json(z), "records": records})
        })
        .collect();
    json!({"server": server, "network": network, "zones": zones})
}

/// Adds a fault. `wipe` acts at once; `refuse` closes the REST port (waiting for it to be
/// closed when `wait` is set).
pub fn set_fault(sh: &Shared, fault: Fault, wait: bool) {
    match fault.kind {
        FaultKind::Wipe => sh.wipe(),
        FaultKind::Refuse => {
            let was = {
                let mut f = sh.faults();
                let was = f.refusing();
                f.rules.push(fault);
                was
            };
            if !was {
                listener(sh, true, wait);
            }
        }
        _ => {
            let mut f = sh.faults();
            f.pages_served = 0;
            f.rules.push(fault);
        }
    }
}

pub fn clear_faults(sh: &Shared, wait: bool) {
    let was = {
        let mut f = sh.faults();
        let was = f.refusing();
        f.rules.clear();
        f.pages_served = 0;
        was
    };
    if was {
        listener(sh, false, wait);
    }
}

fn listener(sh: &Shared, refuse: bool, wait: bool) {
    let (tx, rx) = std::sync::mpsc::channel();
    let ack = wait.then_some(tx);
    if sh
        .listener_tx
        .send(ListenerCmd::Refuse(refuse, ack))
        .is_ok()
        && wait
    {
        let _ = rx.recv_timeout(Duration::from_secs(10));
    }
}

#[derive(Deserialize)]
struct SeedRecord {
    name: String,
    #[serde(rename = "type", default = "a_type")]
    rtype: String,
    data: Value,
    #[serde(default = "default_ttl")]
    ttl: u32,
    #[serde(default = "yes")]
    enabled: bool,
}

fn a_type() -> String {
    "A".into()
}
fn default_ttl() -> u32 {
    300
}
fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct SeedZone {
    name: String,
    #[serde(default)]
    records: Vec<SeedRecord>,
}

#[derive(Deserialize)]
struct Seed {
    #[serde(default)]
    zones: Vec<SeedZone>,
    #[serde(default)]
    leases: Vec<Value>,
}

fn seed(sh: &Shared, body: &[u8]) -> Reply {
    let seed: Seed = match serde_json::from_slice(body) {
        Ok(s) => s,
        Err(e) => return Reply::text(400, format!("bad seed: {e}")),
    };
    let mut out = Vec::new();
    for z in seed.zones {
        let id = seed_zone(sh, &z.name);
        let ids: Vec<Value> = z
            .records
            .into_iter()
            .filter_map(|r| seed_record(sh, &id, &r.name, &r.rtype, r.data, r.ttl, r.enabled))
            .map(Value::String)
            .collect();
        out.push(json!({"name": z.name, "id": id, "records": ids}));
    }
    sh.store().leases.extend(seed.leases);
    sh.persist();
    Reply::json(200, json!({"zones": out}))
}

fn set_faults(sh: &Arc<Shared>, body: &[u8], wait: bool) -> Reply {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Reply::text(400, format!("bad fault: {e}")),
    };
    let list = match v {
        Value::Array(a) => a,
        other => vec![other],
    };
    let mut faults = Vec::new();
    for f in list {
        match serde_json::from_value::<Fault>(f) {
            Ok(f) => faults.push(f),
            Err(e) => return Reply::text(400, format!("bad fault: {e}")),
        }
    }
    for f in faults {
        set_fault(sh, f, wait);
    }
    Reply::json(200, json!(sh.faults().rules))
}

fn query_param(query: &str, key: &str) -> Option<String> {
    actix_web::web::Query::<std::collections::HashMap<String, String>>::from_query(query)
        .ok()
        .and_then(|q| q.get(key).cloned())
}

/// `control_port`: the request came on the separate control listener, so it may wait for
/// the REST port to close (on the REST port itself that would wait for its own end).
pub async fn handle(
    sh: &Arc<Shared>,
    method: &str,
    rest: &str,
    query: &str,
    body: &[u8],
    control_port: bool,
) -> Reply {
    let rest = rest.trim_end_matches('/');
    match (method, rest) {
        ("GET", "health") => Reply::json(200, json!({"status": "ok"})),
        ("GET", "store") => Reply::json(200, store_json(sh)),
        ("GET", "export") => {
            let server = query_param(query, "server").unwrap_or_default();
            let network = query_param(query, "network").unwrap_or_default();
            Reply::json(200, export(sh, &server, &network))
        }
        ("POST", "seed") => seed(sh, body),
        ("POST", "wipe") => {
            sh.wipe();
            Reply::empty(204)
        }
        ("GET", "faults") => Reply::json(200, json!(sh.faults().rules)),
        ("POST", "faults") => {
            let sh = sh.clone();
            let body = body.to_vec();
            if control_port {
                actix_web::web::block(move || set_faults(&sh, &body, true))
                    .await
                    .unwrap_or_else(|e| Reply::text(500, e.to_string()))
            } else {
                set_faults(&sh, &body, false)
            }
        }
        ("DELETE", "faults") => {
            let sh = sh.clone();
            if control_port {
                let _ = actix_web::web::block(move || clear_faults(&sh, true)).await;
            } else {
                clear_faults(&sh, false);
            }
            Reply::empty(204)
        }
        ("GET", "requests") => Reply::json(200, json!(sh.log().entries)),
        ("DELETE", "requests") => {
            *sh.log() = Default::default();
            Reply::empty(204)
        }
        ("GET", "counters") => Reply::json(200, json!(sh.log().counters)),
        ("DELETE", "counters") => {
            sh.log().counters.clear();
            Reply::empty(204)
        }
        _ => Reply {
            status: 404,
            body: Body::Text(format!("unknown control route: {method} /_control/{rest}")),
            allow: None,
        },
    }
}
