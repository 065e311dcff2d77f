//! The in-memory database: zones, records and leases (spec microdns-api.md §1.4–§1.8).

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Soa {
    pub mname: String,
    pub rname: String,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub soa: Soa,
    pub default_ttl: u32,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub zone_id: String,
    pub name: String,
    pub ttl: u32,
    #[serde(rename = "type")]
    pub rtype: String,
    /// `{type, data}` exactly as the API shows it.
    pub data: Value,
    pub enabled: bool,
    pub health_check: Value,
    pub created_at: String,
    pub updated_at: String,
    /// Insertion order, the tie-break within one `<name>:<TYPE>` key.
    pub seq: u64,
    /// Shown only by the `current` version.
    #[serde(default = "manual")]
    pub source: String,
    #[serde(default)]
    pub origin: Value,
}

fn manual() -> String {
    "manual".into()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Store {
    pub zones: Vec<Zone>,
    pub records: Vec<Record>,
    /// Lease objects as `GET /leases` shows them (seeded only).
    #[serde(default)]
    pub leases: Vec<Value>,
    pub next_seq: u64,
}

pub fn now_text() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, false)
}

/// `YYYYMMDD00` of today (UTC).
pub fn today_serial() -> u32 {
    Utc::now()
        .format("%Y%m%d00")
        .to_string()
        .parse()
        .unwrap_or(0)
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Zone {
    pub fn new(name: &str) -> Zone {
        let now = now_text();
        Zone {
            id: new_id(),
            name: name.to_string(),
            soa: Soa {
                mname: format!("ns1.{name}"),
                rname: format!("admin.{name}"),
                serial: today_serial(),
                refresh: 3600,
                retry: 900,
                expire: 604800,
                minimum: 300,
            },
            default_ttl: 300,
            created_at: now.clone(),
            updated_at: now,
        }
    }
}

impl Record {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "zone_id": self.zone_id,
            "name": self.name,
            "ttl": self.ttl,
            "type": self.rtype,
            "data": self.data,
            "enabled": self.enabled,
            "health_check": self.health_check,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }

    fn sort_key(&self) -> (String, u64) {
        (format!("{}:{}", self.name, self.rtype), self.seq)
    }
}

/// Fields of a new record, already validated.
pub struct NewRecord {
    pub name: String,
    pub ttl: u32,
    pub rtype: String,
    pub data: Value,
    pub enabled: bool,
    pub health_check: Value,
}

impl Store {
    pub fn zone(&self, id: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.id == id)
    }

    pub fn zone_by_name(&self, name: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.name == name)
    }

    pub fn record_count(&self, zone_id: &str) -> usize {
        self.records.iter().filter(|r| r.zone_id == zone_id).count()
    }

    pub fn zone_json(&self, z: &Zone) -> Value {
        json!({
            "id": z.id,
            "name": z.name,
            "soa": z.soa,
            "default_ttl": z.default_ttl,
            "record_count": self.record_count(&z.id),
            "created_at": z.created_at,
            "updated_at": z.updated_at,
        })
    }

    /// Zones in id order (random, as in microdns).
    pub fn zones_sorted(&self) -> Vec<&Zone> {
        let mut v: Vec<&Zone> = self.zones.iter().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Records of a zone in bytewise `<name>:<TYPE>` order, then insertion order.
    pub fn zone_records(&self, zone_id: &str) -> Vec<&Record> {
        let mut v: Vec<&Record> = self
            .records
            .iter()
            .filter(|r| r.zone_id == zone_id)
            .collect();
        v.sort_by_key(|r| r.sort_key());
        v
    }

    pub fn add_zone(&mut self, z: Zone) -> Value {
        let j = self.zone_json(&z);
        self.zones.push(z);
        j
    }

    pub fn delete_zone(&mut self, id: &str) -> bool {
        let before = self.zones.len();
        self.zones.retain(|z| z.id != id);
        if self.zones.len() == before {
            return false;
        }
        self.records.retain(|r| r.zone_id != id);
        true
    }

    /// An enabled record with equal zone, name, type and data (§1.8).
    pub fn find_duplicate(&self, zone_id: &str, n: &NewRecord) -> Option<&Record> {
        self.records.iter().find(|r| {
            r.enabled
                && r.zone_id == zone_id
                && r.name == n.name
                && r.rtype == n.rtype
                && r.data == n.data
        })
    }

    pub fn insert_record(&mut self, zone_id: &str, n: NewRecord) -> Value {
        let now = now_text();
        self.next_seq += 1;
        let r = Record {
            id: new_id(),
            zone_id: zone_id.to_string(),
            name: n.name,
            ttl: n.ttl,
            rtype: n.rtype,
            data: n.data,
            enabled: n.enabled,
            health_check: n.health_check,
            created_at: now.clone(),
            updated_at: now,
            seq: self.next_seq,
            source: manual(),
            origin: Value::Null,
        };
        let j = r.to_json();
        self.records.push(r);
        self.touch_zone(zone_id);
        j
    }

    pub fn record(&self, id: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.id == id)
    }

    pub fn record_mut(&mut self, id: &str) -> Option<&mut Record> {
        self.records.iter_mut().find(|r| r.id == id)
    }

    /// Deletes by record id only (the zone in the path is not checked, §2 notes).
    pub fn delete_record(&mut self, id: &str) -> Option<Record> {
        let idx = self.records.iter().position(|r| r.id == id)?;
        let r = self.records.remove(idx);
        self.touch_zone(&r.zone_id);
        Some(r)
    }

    /// A record write moves the SOA serial (§1.5) and `updated_at`.
    pub fn touch_zone(&mut self, zone_id: &str) {
        if let Some(z) = self.zones.iter_mut().find(|z| z.id == zone_id) {
            let today = today_serial();
            z.soa.serial = if z.soa.serial < today {
                today
            } else {
                z.soa.serial.saturating_add(1)
            };
            z.updated_at = now_text();
        }
    }
}

/// `offset`/`limit` paging (§1.4): default 100, capped at 1000.
pub fn page<T: Clone>(items: &[T], offset: usize, limit: Option<usize>) -> Vec<T> {
    let limit = limit.unwrap_or(100).min(1000);
    items.iter().skip(offset).take(limit).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_moves_on_every_write() {
        let mut s = Store::default();
        let z = Zone::new("gt.lo");
        let id = z.id.clone();
        s.add_zone(z);
        let before = s.zone(&id).map(|z| z.soa.serial).unwrap_or_default();
        s.touch_zone(&id);
        let after = s.zone(&id).map(|z| z.soa.serial).unwrap_or_default();
        assert_eq!(after, before + 1);
    }

    #[test]
    fn paging_caps() {
        let v: Vec<u32> = (0..2000).collect();
        assert_eq!(page(&v, 0, None).len(), 100);
        assert_eq!(page(&v, 0, Some(5000)).len(), 1000);
        assert!(page(&v, 0, Some(0)).is_empty());
        assert!(page(&v, 3000, None).is_empty());
    }
}
