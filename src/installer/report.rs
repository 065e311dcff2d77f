//! How a run shows itself: one line per step as it starts and ends, the device calls each step
//! made, and on failure the step, what it saw and what to do.

use std::io::Write;

use crate::routeros::{RosClient, StatsSnapshot};

/// A failed step: what the operator reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    pub step: &'static str,
    /// What the installer saw.
    pub saw: String,
    /// What to do about it.
    pub todo: String,
}

impl StepError {
    pub fn new(step: &'static str, saw: impl Into<String>, todo: impl Into<String>) -> StepError {
        StepError {
            step,
            saw: saw.into(),
            todo: todo.into(),
        }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "step {} failed\n  saw: {}\n  do:  {}",
            self.step, self.saw, self.todo
        )
    }
}

impl std::error::Error for StepError {}

/// Reads and writes of the device, from the client's per-endpoint counters: a `GET` or a
/// `POST …/print` reads, anything else writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceCalls {
    pub reads: u64,
    pub writes: u64,
}

impl DeviceCalls {
    pub fn of(stats: &StatsSnapshot) -> DeviceCalls {
        let mut calls = DeviceCalls::default();
        for (endpoint, s) in &stats.by_endpoint {
            if is_read(endpoint) {
                calls.reads += s.calls;
            } else {
                calls.writes += s.calls;
            }
        }
        calls
    }

    pub fn since(self, before: DeviceCalls) -> DeviceCalls {
        DeviceCalls {
            reads: self.reads - before.reads,
            writes: self.writes - before.writes,
        }
    }
}

/// `GET <path>` and `POST <menu>/print` change nothing on a device.
pub fn is_read(endpoint: &str) -> bool {
    endpoint.starts_with("GET ") || endpoint.ends_with("/print")
}

/// Prints progress to a writer (stdout for the CLI, a buffer in tests).
pub struct Progress {
    out: Box<dyn Write + Send>,
    total: usize,
    index: usize,
}

impl Progress {
    pub fn new(out: Box<dyn Write + Send>, total: usize) -> Progress {
        Progress {
            out,
            total,
            index: 0,
        }
    }

    /// `[i/n] step: ` at the start of a step.
    pub fn begin(&mut self, step: &str) {
        self.index += 1;
        let _ = write!(self.out, "[{}/{}] {step}: ", self.index, self.total);
        let _ = self.out.flush();
    }

    /// The step's outcome and the device calls it made.
    pub fn end(&mut self, summary: &str, calls: DeviceCalls) {
        let _ = writeln!(
            self.out,
            "{summary} ({} reads, {} writes)",
            calls.reads, calls.writes
        );
        let _ = self.out.flush();
    }

    pub fn failed(&mut self, e: &StepError) {
        let _ = writeln!(self.out, "FAILED\n  saw: {}\n  do:  {}", e.saw, e.todo);
        let _ = self.out.flush();
    }

    pub fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }
}

/// The device calls made so far by `client`.
pub fn calls(client: &RosClient) -> DeviceCalls {
    DeviceCalls::of(&client.stats())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes() {
        assert!(is_read("GET /container"));
        assert!(is_read("POST /file/print"));
        assert!(!is_read("POST /file/add"));
        assert!(!is_read("POST /container/start"));
        let e = StepError::new("registry", "row vanished", "run again");
        assert!(e.to_string().contains("step registry failed"));
    }
}
