//! One stored record of the log, as read back: the stream sequence, its subject, when the
//! stream stored it, and the raw envelope bytes (decoded on demand, so a bad record can be
//! reported with its sequence instead of stopping a reader).

use super::envelope::{DecodeError, Envelope};
use bytes::Bytes;
use chrono::{DateTime, Utc};

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
