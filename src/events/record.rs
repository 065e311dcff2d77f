//! One stored record of the log, as read back: the stream sequence, its subject, when the
//! stream stored it, and the raw envelope bytes (decoded on demand, so a bad record can be
//! reported with its sequence instead of stopping a reader).

use super::envelope::{DecodeError, Envelope};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub seq: u64,
    pub subject: String,
    pub stored: DateTime<Utc>,
    pub data: Bytes,
}

impl Record {
    pub fn decode(&self) -> Result<Envelope, DecodeError> {
        Envelope::decode(&self.data, self.seq)
    }
}

/// A record as one JSON object (`mkube events --format json`, `GET /api/v1/log`): sequence,
/// subject, when stored, and the decoded envelope (kind, time, node, actor, correlation,
/// payload), or the reason it does not decode.
pub fn record_json(record: &Record, decoded: &Result<Envelope, DecodeError>) -> Value {
    let stored = record.stored.to_rfc3339_opts(SecondsFormat::Millis, true);
    match decoded {
        Ok(env) => json!({
            "seq": record.seq,
            "subject": record.subject,
            "stored": stored,
            "v": env.version,
            "kind": env.kind(),
            "time": env.time.to_rfc3339_opts(SecondsFormat::Millis, true),
            "node": env.node,
            "actor": env.actor,
            "corr": env.correlation,
            "payload": env.payload_json(),
        }),
        Err(e) => json!({
            "seq": record.seq,
            "subject": record.subject,
            "stored": stored,
            "error": e.reason,
        }),
    }
}
