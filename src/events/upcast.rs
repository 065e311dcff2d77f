//! Upcasting: turn a record written by an older schema into the current one, at the CBOR value
//! level, before it is decoded into the typed catalogue. One function per version step.
//!
//! Version history:
//! - v1: kinds carried no area prefix (`IpAllocated`), and `IpAllocated` named its fields
//!   `pool`/`veth` and had no hostname or static flag.
//! - v2 (current): kinds are `area.Variant`; `IpAllocated` is `{network, key, ip, hostname, static}`.

use super::envelope::SCHEMA_VERSION;
use ciborium::Value;

pub fn to_current(version: u32, kind: String, payload: Value) -> Result<(String, Value), String> {
    if version == 0 || version > SCHEMA_VERSION {
        return Err(format!(
            "schema version {version} is not one this mkube reads (1..={SCHEMA_VERSION})"
        ));
    }
    let (mut kind, mut payload) = (kind, payload);
    if version < 2 {
        (kind, payload) = v1_to_v2(kind, payload)?;
    }
    Ok((kind, payload))
}

/// v1 kinds, by the area they belong to.
const V1_AREAS: &[(&str, &[&str])] = &[
    (
        "pods",
        &[
            "PodDeclared",
            "PodUpdated",
            "PodDeleted",
            "ContainerCreated",
            "ContainerStarted",
            "ContainerRemoved",
            "PodCreateFailed",
        ],
    ),
    (
        "lifecycle",
        &[
            "UnitRegistered",
            "UnitRestarted",
            "UnitFailed",
            "UnitUnregistered",
        ],
    ),
    ("ipam", &["IpAllocated", "IpRecorded", "IpReleased"]),
    ("veths", &["VethCreated", "VethRemoved"]),
    (
        "dns",
        &["ZoneBound", "RecordRegistered", "RecordDeregistered"],
    ),
    ("images", &["ImageResolved", "TarballBuilt", "ImageCleared"]),
    (
        "consistency",
        &["NetworkFailureCounted", "NetworkRecovered", "OrphanReaped"],
    ),
];

fn v1_to_v2(kind: String, payload: Value) -> Result<(String, Value), String> {
    let area = V1_AREAS
        .iter()
        .find(|(_, kinds)| kinds.contains(&kind.as_str()))
        .map(|(area, _)| *area)
        .ok_or_else(|| format!("unknown v1 kind {kind:?}"))?;
    let payload = if kind == "IpAllocated" {
        ip_allocated_v1_to_v2(payload)?
    } else {
        payload
    };
    Ok((format!("{area}.{kind}"), payload))
}

fn ip_allocated_v1_to_v2(payload: Value) -> Result<Value, String> {
    let Value::Map(entries) = payload else {
        return Err("v1 IpAllocated payload is not a map".into());
    };
    let mut out: Vec<(Value, Value)> = entries
        .into_iter()
        .map(|(k, v)| {
            let renamed = match k.as_text() {
                Some("pool") => Value::Text("network".into()),
                Some("veth") => Value::Text("key".into()),
                _ => k,
            };
            (renamed, v)
        })
        .collect();
    out.push((Value::Text("hostname".into()), Value::Text(String::new())));
    out.push((Value::Text("static".into()), Value::Bool(false)));
    Ok(Value::Map(out))
}
