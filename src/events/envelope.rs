//! The envelope every event travels in: a CBOR map
//! `{v, kind, time, node, actor, corr, payload}` (documented in the README).

use super::catalogue::{Area, Event};
use super::upcast;
use chrono::{DateTime, SecondsFormat, Utc};
use ciborium::Value;
use serde::{Deserialize, Serialize};

/// The schema version this build writes. Older records are upcast on read (`upcast.rs`).
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub version: u32,
    pub time: DateTime<Utc>,
    pub node: String,
    pub actor: String,
    pub correlation: String,
    pub event: Event,
}

/// A record that could not be turned into an event. Carries the stream sequence (0 when the
/// bytes did not come from a stream).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("event at sequence {seq} cannot be decoded: {reason}")]
pub struct DecodeError {
    pub seq: u64,
    pub reason: String,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    v: u32,
    kind: String,
    time: String,
    node: String,
    actor: String,
    corr: String,
    payload: Value,
}

impl Envelope {
    pub fn new(node: &str, actor: &str, correlation: &str, event: Event) -> Self {
        Envelope {
            version: SCHEMA_VERSION,
            time: Utc::now(),
            node: node.to_string(),
            actor: actor.to_string(),
            correlation: correlation.to_string(),
            event,
        }
    }

    /// `area.Variant`, e.g. `ipam.IpAllocated`.
    pub fn kind(&self) -> String {
        split_event(&self.event)
            .map(|(kind, _)| kind)
            .unwrap_or_default()
    }

    pub fn encode(&self) -> Vec<u8> {
        // Serialising our own enums into a CBOR value cannot fail: every field is a plain type.
        let (kind, payload) = split_event(&self.event).expect("catalogue events serialise");
        let wire = Wire {
            v: SCHEMA_VERSION,
            kind,
            time: self.time.to_rfc3339_opts(SecondsFormat::Millis, true),
            node: self.node.clone(),
            actor: self.actor.clone(),
            corr: self.correlation.clone(),
            payload,
        };
        let mut out = Vec::with_capacity(256);
        ciborium::into_writer(&wire, &mut out).expect("writing CBOR to a Vec cannot fail");
        out
    }

    pub fn decode(bytes: &[u8], seq: u64) -> Result<Envelope, DecodeError> {
        let err = |reason: String| DecodeError { seq, reason };
        let wire: Wire =
            ciborium::from_reader(bytes).map_err(|e| err(format!("not an envelope: {e}")))?;
        let time = DateTime::parse_from_rfc3339(&wire.time)
            .map_err(|e| err(format!("bad time {:?}: {e}", wire.time)))?
            .with_timezone(&Utc);
        let (kind, payload) = upcast::to_current(wire.v, wire.kind, wire.payload).map_err(err)?;
        let event = join_event(&kind, payload).map_err(err)?;
        Ok(Envelope {
            version: wire.v,
            time,
            node: wire.node,
            actor: wire.actor,
            correlation: wire.corr,
            event,
        })
    }
}

/// Event → (`area.Variant`, payload map).
fn split_event(event: &Event) -> Result<(String, Value), String> {
    let tagged = match event {
        Event::Pods(e) => Value::serialized(e),
        Event::Lifecycle(e) => Value::serialized(e),
        Event::Ipam(e) => Value::serialized(e),
        Event::Veths(e) => Value::serialized(e),
        Event::Dns(e) => Value::serialized(e),
        Event::Images(e) => Value::serialized(e),
        Event::Consistency(e) => Value::serialized(e),
        Event::ConfigMaps(e) => Value::serialized(e),
    }
    .map_err(|e| e.to_string())?;
    let Value::Map(entries) = tagged else {
        return Err("event did not serialise to a map".into());
    };
    let mut variant = None;
    let mut payload = Value::Map(Vec::new());
    for (k, v) in entries {
        match (k.as_text(), v) {
            (Some("kind"), Value::Text(t)) => variant = Some(t),
            (Some("payload"), p) => payload = p,
            _ => {}
        }
    }
    let variant = variant.ok_or("event without a kind")?;
    Ok((format!("{}.{variant}", event.area()), payload))
}

/// (`area.Variant`, payload) → Event.
fn join_event(kind: &str, payload: Value) -> Result<Event, String> {
    let (area, variant) = kind
        .split_once('.')
        .ok_or_else(|| format!("kind {kind:?} has no area prefix"))?;
    let area: Area = area.parse()?;
    let tagged = Value::Map(vec![
        (Value::Text("kind".into()), Value::Text(variant.into())),
        (Value::Text("payload".into()), payload),
    ]);
    let bad = |e: ciborium::value::Error| format!("bad {kind} payload: {e}");
    Ok(match area {
        Area::Pods => Event::Pods(tagged.deserialized().map_err(bad)?),
        Area::Lifecycle => Event::Lifecycle(tagged.deserialized().map_err(bad)?),
        Area::Ipam => Event::Ipam(tagged.deserialized().map_err(bad)?),
        Area::Veths => Event::Veths(tagged.deserialized().map_err(bad)?),
        Area::Dns => Event::Dns(tagged.deserialized().map_err(bad)?),
        Area::Images => Event::Images(tagged.deserialized().map_err(bad)?),
        Area::Consistency => Event::Consistency(tagged.deserialized().map_err(bad)?),
        Area::ConfigMaps => Event::ConfigMaps(tagged.deserialized().map_err(bad)?),
    })
}

impl Envelope {
    /// The payload as JSON (for `mkube replay --format json` and logs).
    pub fn payload_json(&self) -> serde_json::Value {
        let tagged = match &self.event {
            Event::Pods(e) => serde_json::to_value(e),
            Event::Lifecycle(e) => serde_json::to_value(e),
            Event::Ipam(e) => serde_json::to_value(e),
            Event::Veths(e) => serde_json::to_value(e),
            Event::Dns(e) => serde_json::to_value(e),
            Event::Images(e) => serde_json::to_value(e),
            Event::Consistency(e) => serde_json::to_value(e),
            Event::ConfigMaps(e) => serde_json::to_value(e),
        };
        tagged
            .ok()
            .and_then(|mut v| v.get_mut("payload").map(serde_json::Value::take))
            .unwrap_or(serde_json::Value::Null)
    }
}
