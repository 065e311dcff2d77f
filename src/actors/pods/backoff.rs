//! The back-off of failed pod jobs (§3.1 [F]): after a failed job the reconcile pass leaves
//! the pod alone for `lifecycle.createBackoffSeconds` (2 s), doubling with each further
//! failure up to `lifecycle.createBackoffMaxSeconds` (5 min); a successful job forgets the
//! failures. A user change (a forced kick) runs the pod whatever the back-off says.
//!
//! A failure that was the device's or the log's (an outage, `JobError::outage`) says nothing
//! about the pod: it is forgotten as soon as a reconcile pass finds that part answering again
//! (the device read, the log connected), so pods come back with it instead of minutes later
//! (found by the soak: a pod stayed `ContainerCreating` ~80 s after a 500 window ended).
//! While the part is still down the wait keeps doubling, so nothing hammers the device.

use super::error::Outage;
use crate::config::LifecycleConfig;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The policy: how long to wait after the `n`th consecutive failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
}

/// Doublings stop counting here (2^20 × base is past any sensible cap).
const MAX_DOUBLINGS: u32 = 20;

impl Backoff {
    /// The lifecycle settings; a value that is not a positive number keeps its default.
    pub fn from_config(lc: &LifecycleConfig) -> Backoff {
        let secs =
            |v: f64, d: f64| Duration::from_secs_f64(if v.is_finite() && v > 0.0 { v } else { d });
        Backoff {
            base: secs(lc.create_backoff_seconds, 2.0),
            max: secs(lc.create_backoff_max_seconds, 300.0),
        }
    }

    /// The wait after `failures` consecutive failures (1 = the first): base × 2^(n−1), capped.
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(MAX_DOUBLINGS));
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// The policy applied per pod key: consecutive failures and the instant the wait ends.
#[derive(Debug)]
pub struct Backoffs {
    policy: Backoff,
    keys: HashMap<String, Waiting>,
}

#[derive(Debug, Clone, Copy)]
struct Waiting {
    failures: u32,
    until: Instant,
    /// The last failure was an outage of this part.
    outage: Option<Outage>,
}

impl Backoffs {
    pub fn new(policy: Backoff) -> Backoffs {
        Backoffs {
            policy,
            keys: HashMap::new(),
        }
    }

    /// A job of `key` failed at `now`; `outage` when the device or the log was unavailable.
    pub fn failed(&mut self, key: &str, now: Instant, outage: Option<Outage>) {
        let failures = self.keys.get(key).map_or(0, |w| w.failures) + 1;
        let until = now + self.policy.delay(failures);
        let waiting = Waiting {
            failures,
            until,
            outage,
        };
        self.keys.insert(key.to_string(), waiting);
    }

    /// A reconcile pass read the device; `log_up` when the log is connected: the waits after
    /// outages of what answers end now.
    pub fn answered(&mut self, log_up: bool) {
        self.keys.retain(|_, w| match w.outage {
            Some(Outage::Device) => false,
            Some(Outage::Log) => !log_up,
            None => true,
        });
    }

    /// A job of `key` succeeded: its failures are forgotten.
    pub fn succeeded(&mut self, key: &str) {
        self.keys.remove(key);
    }

    /// Whether `key` is still waiting at `now`.
    pub fn holds(&self, key: &str, now: Instant) -> bool {
        self.keys.get(key).is_some_and(|w| now < w.until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(base: f64, max: f64) -> Backoff {
        let lc = LifecycleConfig {
            create_backoff_seconds: base,
            create_backoff_max_seconds: max,
            ..LifecycleConfig::default()
        };
        Backoff::from_config(&lc)
    }

    #[test]
    fn doubles_from_two_seconds_up_to_five_minutes() {
        let p = Backoff::from_config(&LifecycleConfig::default());
        let secs: Vec<u64> = (1..=10).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(secs, vec![2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(300), "no overflow");
        assert_eq!(p.delay(0), Duration::from_secs(2));
    }

    #[test]
    fn settings_that_are_not_positive_numbers_keep_the_defaults() {
        assert_eq!(policy(0.0, -1.0), policy(2.0, 300.0));
        assert_eq!(policy(f64::NAN, f64::INFINITY), policy(2.0, 300.0));
        assert_eq!(policy(0.2, 1.0).delay(4), Duration::from_secs(1));
        assert_eq!(policy(0.2, 1.0).delay(2), Duration::from_millis(400));
    }

    #[test]
    fn a_key_waits_after_each_failure_and_a_success_forgets() {
        let mut b = Backoffs::new(policy(2.0, 300.0));
        let t0 = Instant::now();
        assert!(!b.holds("ns/p", t0));
        b.failed("ns/p", t0, None);
        assert!(b.holds("ns/p", t0 + Duration::from_millis(1999)));
        assert!(!b.holds("ns/p", t0 + Duration::from_secs(2)));
        assert!(!b.holds("ns/other", t0), "per key");
        b.failed("ns/p", t0, None);
        assert!(
            b.holds("ns/p", t0 + Duration::from_secs(3)),
            "second failure: 4 s"
        );
        b.succeeded("ns/p");
        assert!(!b.holds("ns/p", t0));
        b.failed("ns/p", t0, None);
        assert!(
            !b.holds("ns/p", t0 + Duration::from_secs(2)),
            "counting starts over"
        );
    }

    #[test]
    fn a_wait_after_an_outage_ends_when_that_part_answers() {
        let mut b = Backoffs::new(policy(2.0, 300.0));
        let t0 = Instant::now();
        for _ in 0..8 {
            b.failed("ns/device", t0, Some(Outage::Device));
            b.failed("ns/log", t0, Some(Outage::Log));
            b.failed("ns/bad", t0, None);
        }
        let later = t0 + Duration::from_secs(100);
        // The device answers while NATS is still down: only the device's waits end.
        b.answered(false);
        assert!(!b.holds("ns/device", t0), "device outage forgotten");
        assert!(b.holds("ns/log", later), "the log is still down");
        assert!(
            b.holds("ns/bad", later),
            "the pod's own failure still waits"
        );
        b.answered(true);
        assert!(!b.holds("ns/log", t0), "log outage forgotten");
        assert!(b.holds("ns/bad", later));
        b.failed("ns/device", t0, Some(Outage::Device));
        assert!(
            !b.holds("ns/device", t0 + Duration::from_secs(2)),
            "counting started over"
        );
        // A pod failure after outages keeps its count and is not forgotten.
        b.failed("ns/device", t0, None);
        b.answered(true);
        assert!(b.holds("ns/device", t0 + Duration::from_secs(3)), "4 s");
    }
}
