//! Push coalescing (images.md §4.1: "SHOULD coalesce events for 2 s"). The first push of a
//! quiet period runs a pass at once; pushes within the next window fold into one more pass at
//! the window's end, so a burst (a multi-image push, a registry replaying its queue) costs two
//! passes, not one per event, and the last push is never left unreconciled.

use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    RunNow,
    /// Run one pass at this instant (nothing scheduled yet).
    RunAt(Instant),
    /// A pass is already scheduled for the end of the window.
    Coalesced,
}

#[derive(Debug, Default)]
pub struct Coalescer {
    window_until: Option<Instant>,
    trailing: bool,
}

impl Coalescer {
    pub fn on_push(&mut self, now: Instant) -> Action {
        match self.window_until {
            Some(until) if now < until => {
                if self.trailing {
                    Action::Coalesced
                } else {
                    self.trailing = true;
                    Action::RunAt(until)
                }
            }
            _ => {
                self.window_until = Some(now + WINDOW);
                Action::RunNow
            }
        }
    }

    /// The trailing pass ran at `now`: it opens a new window.
    pub fn trailing_ran(&mut self, now: Instant) {
        self.trailing = false;
        self.window_until = Some(now + WINDOW);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_costs_one_pass_now_and_one_at_the_window_end() {
        let t0 = Instant::now();
        let mut c = Coalescer::default();
        assert_eq!(c.on_push(t0), Action::RunNow);
        let end = t0 + WINDOW;
        assert_eq!(
            c.on_push(t0 + Duration::from_millis(10)),
            Action::RunAt(end)
        );
        for ms in [20, 500, 1999] {
            assert_eq!(c.on_push(t0 + Duration::from_millis(ms)), Action::Coalesced);
        }
        c.trailing_ran(end);
        // Right after the trailing pass: still inside its new window.
        assert_eq!(
            c.on_push(end + Duration::from_millis(1)),
            Action::RunAt(end + WINDOW)
        );
        c.trailing_ran(end + WINDOW);
        // A quiet period later: at once again.
        assert_eq!(c.on_push(end + WINDOW * 3), Action::RunNow);
    }
}
