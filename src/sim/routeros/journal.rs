//! Request journal (spec §5.1-18): every /rest request with status and latency.

use std::collections::VecDeque;

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Option<Value>,
    /// HTTP status; 0 when the connection was dropped without a response.
    pub status: u16,
    pub latency_ms: f64,
}

#[derive(Debug, Default)]
pub struct Journal {
    next: u64,
    pub entries: VecDeque<Entry>,
}

const MAX_ENTRIES: usize = 100_000;

impl Journal {
    pub fn push(&mut self, mut e: Entry) {
        self.next += 1;
        e.seq = self.next;
        self.entries.push_back(e);
        if self.entries.len() > MAX_ENTRIES {
            self.entries.pop_front();
        }
    }
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
