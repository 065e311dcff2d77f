//! When repair work runs (§6.3 [F], L-3): at most one job at a time — a repair pass or an
//! on-demand release (§6.4) — and at most one pass pending. A trigger while nothing runs
//! schedules a pass after the delay; triggers meanwhile, or while a pass runs, fold into that
//! one pending pass. An explicit request (`RunRepair`) starts at once when idle. Pure.

/// What the actor does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Nothing,
    /// Start the delay timer; the pass starts when it fires.
    Wait,
    /// Start a pass now.
    Pass,
    /// Start the oldest queued release now.
    Release,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Schedule {
    running: bool,
    /// A pass is pending (its timer runs, or it waits for the running job).
    pending: bool,
    /// The pending pass waits for its timer.
    timer: bool,
    releases: usize,
}

impl Schedule {
    pub fn is_running(&self) -> bool {
        self.running
    }

    pub fn is_pending(&self) -> bool {
        self.pending
    }

    /// A create, delete or reconcile pass asked for a pass.
    pub fn trigger(&mut self) -> Next {
        if self.pending {
            return Next::Nothing;
        }
        self.pending = true;
        if self.running {
            Next::Nothing
        } else {
            self.timer = true;
            Next::Wait
        }
    }

    /// A pass is wanted now (tests, benchmarks): at once when idle (a waiting timer is
    /// dropped: the caller cancels it), else as the pending pass.
    pub fn run_now(&mut self) -> Next {
        self.pending = true;
        if self.running {
            return Next::Nothing;
        }
        self.timer = false;
        self.start_pass()
    }

    /// The delay timer fired.
    pub fn timer_fired(&mut self) -> Next {
        self.timer = false;
        if self.running || !self.pending {
            return Next::Nothing;
        }
        self.start_pass()
    }

    /// An on-demand release was asked for.
    pub fn release(&mut self) -> Next {
        self.releases += 1;
        if self.running {
            return Next::Nothing;
        }
        self.start_release()
    }

    /// The running job ended: queued releases first, then the pending pass (after the delay).
    pub fn ended(&mut self) -> Next {
        self.running = false;
        if self.releases > 0 {
            return self.start_release();
        }
        if self.pending && !self.timer {
            self.timer = true;
            return Next::Wait;
        }
        Next::Nothing
    }

    fn start_pass(&mut self) -> Next {
        self.pending = false;
        self.running = true;
        Next::Pass
    }

    fn start_release(&mut self) -> Next {
        self.releases -= 1;
        self.running = true;
        Next::Release
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_triggers_is_one_pass_and_one_pending() {
        let mut s = Schedule::default();
        assert_eq!(s.trigger(), Next::Wait);
        for _ in 0..100 {
            assert_eq!(s.trigger(), Next::Nothing);
        }
        assert_eq!(s.timer_fired(), Next::Pass);
        assert!(s.is_running() && !s.is_pending());
        // Triggers while it runs: one pending pass.
        for _ in 0..100 {
            assert_eq!(s.trigger(), Next::Nothing);
        }
        assert!(s.is_pending());
        assert_eq!(s.ended(), Next::Wait);
        assert_eq!(s.timer_fired(), Next::Pass);
        assert_eq!(s.ended(), Next::Nothing);
        assert!(!s.is_running() && !s.is_pending());
    }

    #[test]
    fn run_now_starts_when_idle_and_queues_behind_a_running_pass() {
        let mut s = Schedule::default();
        assert_eq!(s.trigger(), Next::Wait);
        assert_eq!(s.run_now(), Next::Pass, "the waiting timer is folded in");
        assert_eq!(
            s.timer_fired(),
            Next::Nothing,
            "a stale timer starts nothing"
        );
        assert_eq!(s.run_now(), Next::Nothing);
        assert_eq!(s.ended(), Next::Wait);
        assert_eq!(s.timer_fired(), Next::Pass);
    }

    #[test]
    fn releases_run_one_at_a_time_before_the_pending_pass() {
        let mut s = Schedule::default();
        assert_eq!(s.release(), Next::Release);
        assert_eq!(s.trigger(), Next::Nothing);
        assert_eq!(s.release(), Next::Nothing);
        assert_eq!(s.ended(), Next::Release);
        assert_eq!(s.ended(), Next::Wait);
        assert_eq!(s.timer_fired(), Next::Pass);
        assert_eq!(s.ended(), Next::Nothing);
    }
}
