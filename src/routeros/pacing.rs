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

/// When a state wait reads the device, in seconds of device time: `first` after the wait
/// begins, then each of `then` in turn, then every [`schedule::POLL`]. A schedule whose
/// `first + then[0]` is 1 s reads on the old 1 s grid from its second read on, so it never
/// makes more reads than reading at once and then every second; it only trades the read
/// that comes right after a command (almost always wasted) for one a little later.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Polls {
    pub first: f64,
    pub then: &'static [f64],
}

impl Polls {
    pub const fn new(first: f64, then: &'static [f64]) -> Polls {
        Polls { first, then }
    }

    /// The delay before read `n` (0-based).
    pub fn delay(&self, n: usize) -> f64 {
        match n {
            0 => self.first,
            n => self.then.get(n - 1).copied().unwrap_or(schedule::POLL),
        }
    }
}

/// Retry delays of the §2.3 schedules, in seconds of device time.
pub mod schedule {
    use super::Polls;

    /// `/container/start` on EOF/transport errors.
    pub const START: [f64; 6] = [2.0, 2.0, 3.0, 3.0, 5.0, 5.0];
    /// `/container/remove` while `cannot remove running`.
    pub const REMOVE: [f64; 8] = [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 5.0];
    /// `/container/add` on `root-dir overlap`: 5 retries every 3 s.
    pub const ADD_OVERLAP: [f64; 5] = [3.0; 5];
    /// Poll interval for state waits (the steady rate every wait backs off to).
    pub const POLL: f64 = 1.0;
    /// Reads as soon as asked, then every [`POLL`]: waits that do not follow a command of
    /// their own (and the extraction wait after an `add` that blocked through the import).
    pub const POLL_NOW: Polls = Polls::new(0.0, &[]);
    /// After `/container/stop`: T → S takes a moment (the process gets its stop signal), so
    /// the first look is after 0.5 s, the second on the old 1 s grid.
    pub const AFTER_STOP: Polls = Polls::new(0.5, &[0.5]);
    /// After `/container/remove`: D → gone is asynchronous (§3.3); same shape as a stop.
    pub const AFTER_REMOVE: Polls = Polls::new(0.5, &[0.5]);
    /// After `/container/start`: N → R "within ~1 s for a healthy image" (§3.3).
    pub const AFTER_START: Polls = Polls::new(0.3, &[0.7]);
    /// After an `add` that returned before the import ended (remote image, or a device that
    /// does not hold the request): half-second looks for the first seconds, then 1 s.
    pub const AFTER_ADD: Polls = Polls::new(0.5, &[0.5, 0.5, 0.75]);
    /// An `add` that took this long held the request through the import (§1.9): read at once.
    pub const ADD_BLOCKED: f64 = 0.5;
    /// Replace: `/container/remove` attempts right after a stop, without re-issuing the stop;
    /// `cannot remove running` while the row is T, or in the short window after it shows S
    /// (§3.3), just means "not yet". About 4 s in all: a healthy stop (≤ 1 s) plus the 2 s
    /// settle the Replace sequence of §2.3 used to sleep unconditionally.
    pub const REMOVE_AFTER_STOP: [f64; 7] = [0.5, 0.25, 0.25, 0.5, 0.5, 1.0, 1.0];
    /// Extraction wait (tarball).
    pub const EXTRACT_TIMEOUT: f64 = 120.0;
    /// Stop wait.
    pub const STOP_TIMEOUT: f64 = 30.0;
    /// Running wait after start.
    pub const RUNNING_TIMEOUT: f64 = 30.0;
    /// Name-gone wait after remove.
    pub const GONE_TIMEOUT: f64 = 15.0;
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

    #[test]
    fn polls_back_off_to_the_steady_rate() {
        let p = schedule::AFTER_STOP;
        assert_eq!(
            (p.delay(0), p.delay(1), p.delay(2), p.delay(9)),
            (0.5, 0.5, 1.0, 1.0)
        );
        assert_eq!(schedule::POLL_NOW.delay(0), 0.0);
        assert_eq!(schedule::POLL_NOW.delay(1), schedule::POLL);
        // From the second read on, the after-command schedules are on the old 1 s grid.
        for p in [
            schedule::AFTER_STOP,
            schedule::AFTER_REMOVE,
            schedule::AFTER_START,
        ] {
            assert_eq!(p.delay(0) + p.delay(1), schedule::POLL);
        }
    }
}
