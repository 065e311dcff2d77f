//! Zone and record objects (§1.5, §1.6). Fields mkube does not read are kept verbatim in
//! `extra`, so a backup (R16) writes back exactly what the server sent.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Zone {
    pub id: String,
    pub name: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub ttl: u32,
    #[serde(rename = "type", default)]
    pub rtype: String,
    pub data: RecordData,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{type, data}`: the value is a string for A/AAAA/CNAME/NS/PTR/TXT and an object for
/// MX/SRV/CAA/SOA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordData {
    #[serde(rename = "type")]
    pub rtype: String,
    pub data: Value,
}

impl RecordData {
    pub fn new(rtype: &str, data: Value) -> Self {
        Self {
            rtype: rtype.to_ascii_uppercase(),
            data,
        }
    }

    pub fn a(ip: &str) -> Self {
        Self::new("A", Value::String(ip.to_string()))
    }
}

impl Record {
    /// The record type, from `data.type` (always equal to the top-level `type`).
    pub fn kind(&self) -> &str {
        if self.data.rtype.is_empty() {
            &self.rtype
        } else {
            &self.data.rtype
        }
    }

    /// The value of a string-valued record (A, AAAA, CNAME, …).
    pub fn value_str(&self) -> Option<&str> {
        self.data.data.as_str()
    }

    /// An A record named `name` (exact match, names are stored as sent).
    pub fn is_a_named(&self, name: &str) -> bool {
        self.kind() == "A" && self.name == name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_with_unknown_fields() {
        let v = serde_json::json!({
            "id": "c02b", "zone_id": "z", "name": "nginx.web", "ttl": 60, "type": "A",
            "data": {"type": "A", "data": "192.168.200.5"}, "enabled": true, "health_check": null
        });
        let r: Record = serde_json::from_value(v.clone()).unwrap();
        assert!(r.is_a_named("nginx.web"));
        assert_eq!(r.value_str(), Some("192.168.200.5"));
        assert_eq!(serde_json::to_value(&r).unwrap(), v);
    }

    #[test]
    fn object_valued_data_decodes() {
        let v = serde_json::json!({"id": "1", "name": "@", "ttl": 300, "type": "MX",
            "data": {"type": "MX", "data": {"preference": 10, "exchange": "mail.gt.lo"}}});
        let r: Record = serde_json::from_value(v).unwrap();
        assert_eq!(r.kind(), "MX");
        assert_eq!(r.value_str(), None);
    }
}
