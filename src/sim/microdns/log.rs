//! Request log and per-route counters (spec microdns-api.md §5 item 10).

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// Raw query string without `?` (empty when none).
    pub query: String,
    /// Raw request body as text (empty when none).
    pub body: String,
    /// HTTP status; 0 when no answer was sent (blackhole).
    pub status: u16,
    /// Route template, e.g. `/api/v1/zones/{zone_id}/records`; empty for unknown routes.
    pub route: String,
    /// RFC 3339 arrival time.
    pub time: String,
    /// Whether the request carried an `X-API-Key` header (its value is not kept).
    pub api_key_sent: bool,
}

#[derive(Debug, Default)]
pub struct RequestLog {
    pub entries: Vec<LoggedRequest>,
    /// `"<METHOD> <route template>"` → number of requests.
    pub counters: BTreeMap<String, u64>,
}

const MAX_ENTRIES: usize = 100_000;

impl RequestLog {
    pub fn push(&mut self, e: LoggedRequest) {
        let route = if e.route.is_empty() {
            "(unknown)"
        } else {
            &e.route
        };
        *self
            .counters
            .entry(format!("{} {route}", e.method))
            .or_default() += 1;
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.remove(0);
        }
        self.entries.push(e);
    }
}
