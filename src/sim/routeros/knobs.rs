//! Simulator knobs (control API `/_sim/knobs`), camelCase JSON.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Extra latency for requests matching `method` (any when `None`) and `path` (prefix or glob).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LatencyRule {
    #[serde(default)]
    pub method: Option<String>,
    pub path: String,
    #[serde(default)]
    pub latency_ms: u64,
    #[serde(default)]
    pub jitter_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Knobs {
    /// Time acceleration for every simulated device duration (not HTTP latency or the request cap).
    pub clock_factor: f64,
    pub seed: u64,
    pub latency_ms: u64,
    pub jitter_ms: u64,
    pub latency_rules: Vec<LatencyRule>,
    pub extract_overhead_ms: u64,
    #[serde(rename = "extractMBps")]
    pub extract_mbps: f64,
    pub extract_fail_rate: f64,
    pub pull_bytes_per_sec: Option<u64>,
    pub settle_ms: u64,
    pub start_delay_ms: u64,
    pub stop_delay_ms: u64,
    pub remove_ms: u64,
    pub remove_running_window_ms: u64,
    pub root_dir_overlap_window_ms: u64,
    pub start_drop_window_ms: u64,
    pub auto_start_after_extract: bool,
    pub remove_deletes_root_dir: bool,
    pub add_blocks: bool,
    pub request_cap_ms: u64,
    pub session_leak: bool,
    pub leak_refuse: bool,
    pub concurrency_limit: Option<usize>,
    pub paused: bool,
    pub file_list_cost_us: u64,
    pub start_refused_during_extract: bool,
    pub probe_ports: Vec<u16>,
    /// Give every row a fresh id on reboot.
    pub renumber_on_reboot: bool,
    /// Process containers: wall-clock time between the stop signal and SIGKILL when the
    /// container has no `stop-time`.
    pub process_stop_grace_ms: u64,
    /// Without process containers: a container whose `name`, `remote-image` or `file`
    /// contains one of these strings exits right after it starts (a broken image), like a
    /// binary that ends at once: the row goes back to stopped with `exited with status 1`.
    pub start_fail_images: Vec<String>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            clock_factor: 1.0,
            seed: 0,
            latency_ms: 0,
            jitter_ms: 0,
            latency_rules: Vec::new(),
            extract_overhead_ms: 1000,
            extract_mbps: 20.0,
            extract_fail_rate: 0.0,
            pull_bytes_per_sec: None,
            settle_ms: 0,
            start_delay_ms: 300,
            stop_delay_ms: 500,
            remove_ms: 500,
            remove_running_window_ms: 0,
            root_dir_overlap_window_ms: 0,
            start_drop_window_ms: 0,
            auto_start_after_extract: false,
            remove_deletes_root_dir: false,
            add_blocks: true,
            request_cap_ms: 60_000,
            session_leak: false,
            leak_refuse: false,
            concurrency_limit: None,
            paused: false,
            file_list_cost_us: 200,
            start_refused_during_extract: true,
            probe_ports: Vec::new(),
            renumber_on_reboot: false,
            process_stop_grace_ms: 10_000,
            start_fail_images: Vec::new(),
        }
    }
}

impl Knobs {
    /// Real wall time for a simulated duration in milliseconds.
    pub fn sim_ms(&self, ms: f64) -> Duration {
        let f = if self.clock_factor > 0.0 {
            self.clock_factor
        } else {
            1.0
        };
        Duration::from_secs_f64((ms / f).max(0.0) / 1000.0)
    }

    pub fn request_cap(&self) -> Duration {
        Duration::from_millis(self.request_cap_ms)
    }

    /// Merges a partial camelCase object into these knobs.
    pub fn merged(&self, patch: &serde_json::Value) -> Result<Knobs, String> {
        let mut cur = serde_json::to_value(self).map_err(|e| e.to_string())?;
        let (Some(obj), Some(p)) = (cur.as_object_mut(), patch.as_object()) else {
            return Err("knobs patch must be a JSON object".into());
        };
        for (k, v) in p {
            if !obj.contains_key(k) {
                return Err(format!("unknown knob {k}"));
            }
            obj.insert(k.clone(), v.clone());
        }
        serde_json::from_value(cur).map_err(|e| e.to_string())
    }
}
