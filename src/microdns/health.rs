//! Health gate per endpoint (controller.md L-5): `GET /api/v1/health` with a 1.5 s limit,
//! the answer kept 15 s, only changes logged. Owned by one actor, no shared state.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::client::MicrodnsClient;

/// How long one health answer is believed.
pub const HEALTH_TTL: Duration = Duration::from_secs(15);

pub struct HealthGate {
    ttl: Duration,
    seen: HashMap<String, (Instant, bool)>,
}

impl Default for HealthGate {
    fn default() -> Self {
        Self::new()
    }
}

impl HealthGate {
    pub fn new() -> Self {
        Self::with_ttl(HEALTH_TTL)
    }

    pub fn with_ttl(ttl: Duration) -> Self {
        Self {
            ttl,
            seen: HashMap::new(),
        }
    }

    /// The cached verdict while fresh, otherwise one health request.
    pub async fn is_healthy(&mut self, client: &MicrodnsClient, endpoint: &str) -> bool {
        if let Some((at, ok)) = self.seen.get(endpoint)
            && at.elapsed() < self.ttl
        {
            return *ok;
        }
        let result = client.health(endpoint).await;
        let ok = result.is_ok();
        let before = self.seen.insert(endpoint.to_string(), (Instant::now(), ok));
        match (before.map(|(_, b)| b), &result) {
            (Some(true) | None, Err(e)) => tracing::warn!(endpoint, "microdns unhealthy: {e}"),
            (Some(false), Ok(_)) => tracing::info!(endpoint, "microdns healthy again"),
            _ => {}
        }
        ok
    }

    /// The last verdict without asking, if any.
    pub fn last(&self, endpoint: &str) -> Option<bool> {
        self.seen.get(endpoint).map(|(_, ok)| *ok)
    }
}
