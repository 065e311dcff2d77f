//! The in-process fan-out of push events behind `GET :5001/events` (spec images.md §2.8).
//!
//! A tokio broadcast channel: publishing never waits for a subscriber; one that falls more than
//! [`CAPACITY`] events behind is told how many it missed (see [`super::mgmt`]). The events are
//! the webhook's: tag pushes only, same JSON body.

use tokio::sync::broadcast;

use super::notify::PushEvent;

/// Events a subscriber may fall behind before it lags.
pub const CAPACITY: usize = 256;

#[derive(Clone)]
pub struct PushFeed {
    tx: broadcast::Sender<String>,
    /// Set at shutdown: open streams end instead of holding the server for its grace period.
    closing: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for PushFeed {
    fn default() -> Self {
        PushFeed::new()
    }
}

impl PushFeed {
    pub fn new() -> PushFeed {
        let (tx, _) = broadcast::channel(CAPACITY);
        let (closing, _) = tokio::sync::watch::channel(false);
        PushFeed {
            tx,
            closing: std::sync::Arc::new(closing),
        }
    }

    /// Sends `event` (its webhook JSON body) to every current subscriber; digest-reference
    /// pushes are left out, as for the webhook.
    pub fn publish(&self, event: &PushEvent) {
        if event.is_digest_reference() {
            return;
        }
        // No subscriber is not an error.
        let _ = self.tx.send(event.body().to_string());
    }

    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.tx.subscribe()
    }

    /// Ends every open stream (at shutdown).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Becomes true when [`PushFeed::close`] was called.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}
