//! `Pacing`: every sleep, poll interval and wait deadline of the client's
//! retry schedules goes through it, so tests can run the same schedules
//! faster against a simulator whose clock is accelerated.

use std::time::Duration;

/// A time scale applied to the client's schedules (not to HTTP timeouts).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    /// 1.0 = real time; 0.02 = 50× faster.
    pub scale: f64,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing { scale: 1.0 }
    }
}

impl Pacing {
    /// Real time.
    pub const REAL: Pacing = Pacing { scale: 1.0 };

    /// A pacing with the given scale (negative or NaN is treated as 1.0).
    pub fn scaled(scale: f64) -> Pacing {
        if scale.is_finite() && scale >= 0.0 {
            Pacing { scale }
        } else {
            Pacing::REAL
        }
    }

    /// A device-time duration in wall time.
    pub fn dur(&self, d: Duration) -> Duration {
        d.mul_f64(self.scale)
    }

    /// Seconds of device time in wall time.
    pub fn secs(&self, s: f64) -> Duration {
        self.dur(Duration::from_secs_f64(s))
    }

    /// Sleeps for a device-time duration.
    pub async fn sleep(&self, d: Duration) {
        let d = self.dur(d);
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    /// Sleeps for `s` seconds of device time.
    pub async fn sleep_secs(&self, s: f64) {
        self.sleep(Duration::from_secs_f64(s)).await;
    }
}

/// Retry delays of the §2.3 schedules, in seconds of device time.
pub mod schedule {
    /// `/container/start` on EOF/transport errors.
    pub const START: [f64; 6] = [2.0, 2.0, 3.0, 3.0, 5.0, 5.0];
    /// `/container/remove` while `cannot remove running`.
    pub const REMOVE: [f64; 8] = [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 5.0];
    /// `/container/add` on `root-dir overlap`: 5 retries every 3 s.
    pub const ADD_OVERLAP: [f64; 5] = [3.0; 5];
    /// Poll interval for state waits.
    pub const POLL: f64 = 1.0;
    /// Extraction wait (tarball).
    pub const EXTRACT_TIMEOUT: f64 = 120.0;
    /// Stop wait.
    pub const STOP_TIMEOUT: f64 = 30.0;
    /// Running wait after start.
    pub const RUNNING_TIMEOUT: f64 = 30.0;
    /// Name-gone wait after remove.
    pub const GONE_TIMEOUT: f64 = 15.0;
    /// Settle after stop before remove (replace).
    pub const REPLACE_SETTLE: f64 = 2.0;
    /// Grace for a fresh row to become listable.
    pub const ROW_GRACE: f64 = 10.0;
    /// `veth/remove` while `in use by container` (a container still deleting).
    pub const VETH_IN_USE: [f64; 5] = [1.0, 1.0, 2.0, 2.0, 3.0];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales() {
        let p = Pacing::scaled(0.02);
        assert_eq!(p.secs(5.0), Duration::from_millis(100));
        assert_eq!(Pacing::default().secs(1.0), Duration::from_secs(1));
        assert_eq!(Pacing::scaled(f64::NAN), Pacing::REAL);
    }
}
