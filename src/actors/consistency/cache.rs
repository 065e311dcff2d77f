//! Serving the report (L-3: single flight, served from a cache). A report younger than the
//! configured age is served as is; an older one, up to ten times that age, is served while a
//! fresh one is computed; older still (or none yet), the request waits for the computation.
//! Concurrent requests share one computation. Pure decision; the actor holds the future.

use std::time::Duration;

/// How old a served report may be while its refresh runs, in multiples of the fresh age.
pub const STALE_FACTOR: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serve {
    /// Fresh: the cached report.
    Cached,
    /// The cached report now, and a computation started unless one runs.
    CachedAndRefresh,
    /// Wait for the computation (joined, or started).
    Wait,
}

/// `age`: of the cached report, if there is one.
pub fn serve(age: Option<Duration>, max_age: Duration) -> Serve {
    match age {
        Some(a) if a <= max_age => Serve::Cached,
        Some(a) if a <= max_age * STALE_FACTOR => Serve::CachedAndRefresh,
        _ => Serve::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_is_served_stale_is_refreshed_old_waits() {
        let s = Duration::from_secs;
        assert_eq!(serve(None, s(5)), Serve::Wait);
        assert_eq!(serve(Some(s(1)), s(5)), Serve::Cached);
        assert_eq!(serve(Some(s(6)), s(5)), Serve::CachedAndRefresh);
        assert_eq!(serve(Some(s(51)), s(5)), Serve::Wait);
        assert_eq!(
            serve(Some(Duration::from_millis(1)), s(0)),
            Serve::Wait,
            "age 0: always fresh"
        );
    }
}
