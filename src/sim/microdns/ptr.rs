//! `current` version only (spec microdns-api.md §1.9, 2026-04-01): every A record written
//! through REST gets a PTR in an automatically created /24 reverse zone, removed with it.
//! AAAA records get no PTR here (not needed by mkube's tests).

use std::net::Ipv4Addr;

use serde_json::{Value, json};

use super::store::{NewRecord, Record, Store, Zone};

/// (reverse zone name, PTR name, PTR target) for an enabled A record.
fn ptr_for(st: &Store, r: &Record) -> Option<(String, String, String)> {
    if r.rtype != "A" {
        return None;
    }
    let ip: Ipv4Addr = r.data.get("data")?.as_str()?.parse().ok()?;
    let zone = st.zone(&r.zone_id)?;
    let [a, b, c, d] = ip.octets();
    let fqdn = if r.name == "@" {
        zone.name.clone()
    } else {
        format!("{}.{}", r.name, zone.name)
    };
    Some((format!("{c}.{b}.{a}.in-addr.arpa"), d.to_string(), fqdn))
}

pub fn on_write(st: &mut Store, record_id: &str) {
    let Some((rev, name, target)) = st.record(record_id).and_then(|r| ptr_for(st, r)) else {
        return;
    };
    let zone_id = match st.zone_by_name(&rev) {
        Some(z) => z.id.clone(),
        None => {
            let z = Zone::new(&rev);
            let id = z.id.clone();
            st.add_zone(z);
            id
        }
    };
    let n = NewRecord {
        name,
        ttl: 300,
        rtype: "PTR".into(),
        data: json!({"type": "PTR", "data": target}),
        enabled: true,
        health_check: Value::Null,
    };
    if st.find_duplicate(&zone_id, &n).is_none() {
        st.insert_record(&zone_id, n);
    }
}

pub fn on_delete(st: &mut Store, record_id: &str) {
    let Some((rev, name, target)) = st.record(record_id).and_then(|r| ptr_for(st, r)) else {
        return;
    };
    let Some(zone_id) = st.zone_by_name(&rev).map(|z| z.id.clone()) else {
        return;
    };
    let doomed: Vec<String> = st
        .records
        .iter()
        .filter(|p| {
            p.zone_id == zone_id
                && p.rtype == "PTR"
                && p.name == name
                && p.data.get("data").and_then(Value::as_str) == Some(target.as_str())
        })
        .map(|p| p.id.clone())
        .collect();
    for id in doomed {
        st.delete_record(&id);
    }
}
