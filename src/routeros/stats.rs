//! Call accounting: how many calls each endpoint got and the time spent,
//! so benchmarks can report client overhead and calls per operation.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Per-endpoint totals (`"POST /container/add"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    pub calls: u64,
    pub errors: u64,
    /// Wall time from request start to parsed reply, semaphore wait included.
    pub total: Duration,
    /// Time spent waiting for a connection slot.
    pub queued: Duration,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub calls: u64,
    pub by_endpoint: BTreeMap<String, EndpointStats>,
}

impl StatsSnapshot {
    /// The calls made between `earlier` and `self`.
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        let mut by_endpoint = BTreeMap::new();
        for (k, v) in &self.by_endpoint {
            let e = earlier.by_endpoint.get(k).copied().unwrap_or_default();
            let d = EndpointStats {
                calls: v.calls - e.calls,
                errors: v.errors - e.errors,
                total: v.total.saturating_sub(e.total),
                queued: v.queued.saturating_sub(e.queued),
            };
            if d.calls > 0 {
                by_endpoint.insert(k.clone(), d);
            }
        }
        StatsSnapshot {
            calls: self.calls - earlier.calls,
            by_endpoint,
        }
    }

    /// Calls to one endpoint (`"GET /container"`).
    pub fn calls_to(&self, endpoint: &str) -> u64 {
        self.by_endpoint.get(endpoint).map_or(0, |s| s.calls)
    }
}

/// Counters shared by every clone of a client.
#[derive(Debug, Default)]
pub struct CallStats {
    calls: AtomicU64,
    by_endpoint: Mutex<BTreeMap<String, EndpointStats>>,
}

impl CallStats {
    /// Total calls so far (cheap).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    pub(crate) fn record(&self, endpoint: String, ok: bool, total: Duration, queued: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut map = self.by_endpoint.lock().unwrap_or_else(|p| p.into_inner());
        let e = map.entry(endpoint).or_default();
        e.calls += 1;
        e.errors += u64::from(!ok);
        e.total += total;
        e.queued += queued;
    }

    /// A copy of all counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let map = self.by_endpoint.lock().unwrap_or_else(|p| p.into_inner());
        StatsSnapshot {
            calls: self.calls(),
            by_endpoint: map.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_diffs() {
        let s = CallStats::default();
        s.record(
            "GET /container".into(),
            true,
            Duration::from_millis(2),
            Duration::ZERO,
        );
        let a = s.snapshot();
        s.record(
            "GET /container".into(),
            false,
            Duration::from_millis(3),
            Duration::ZERO,
        );
        s.record(
            "POST /container/add".into(),
            true,
            Duration::from_millis(5),
            Duration::ZERO,
        );
        let d = s.snapshot().since(&a);
        assert_eq!(d.calls, 2);
        assert_eq!(d.calls_to("GET /container"), 1);
        assert_eq!(d.by_endpoint["GET /container"].errors, 1);
        assert_eq!(d.calls_to("POST /container/add"), 1);
        assert_eq!(s.calls(), 3);
    }
}
