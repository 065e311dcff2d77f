//! The figures the soak records beside its verdict (benches/RESULTS.md): mkube's resident
//! memory and open descriptors, the API's latency during faults and when quiet, and how many
//! reconcile passes the site took to converge after the last fault.

use anyhow::{Context, Result};
use std::time::Duration;

/// One look at a process in /proc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessSample {
    pub rss_kib: u64,
    pub fds: usize,
}

impl ProcessSample {
    pub fn of(pid: u32) -> Result<ProcessSample> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        let rss_kib = vm_rss_kib(&status).context("no VmRSS in /proc/<pid>/status")?;
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .with_context(|| format!("listing /proc/{pid}/fd"))?
            .count();
        Ok(ProcessSample { rss_kib, fds })
    }

    pub fn describe(&self) -> String {
        format!(
            "rss={:.1}MiB fds={}",
            self.rss_kib as f64 / 1024.0,
            self.fds
        )
    }
}

/// `VmRSS:    12345 kB` → 12345.
fn vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The API calls' latencies, split by whether a fault was in place when the call was sent.
/// A refused connection never reached mkube and does not count; a call cut off or timed out
/// counts with the time it took.
#[derive(Debug, Default)]
pub struct Latencies {
    during_faults: Vec<Duration>,
    quiet: Vec<Duration>,
}

impl Latencies {
    pub fn record(&mut self, took: Duration, during_fault: bool) {
        if during_fault {
            self.during_faults.push(took);
        } else {
            self.quiet.push(took);
        }
    }

    /// `during faults: n=… p50=… p99=… max=…; quiet: …`
    pub fn describe(&self) -> String {
        format!(
            "during faults: {}; quiet: {}",
            describe(&self.during_faults),
            describe(&self.quiet)
        )
    }

    pub fn p99_during_faults(&self) -> Option<Duration> {
        percentile(&self.during_faults, 99.0)
    }
}

fn describe(xs: &[Duration]) -> String {
    let ms = |q| percentile(xs, q).map_or("-".into(), |d| format!("{}ms", d.as_millis()));
    format!(
        "n={} p50={} p99={} max={}",
        xs.len(),
        ms(50.0),
        ms(99.0),
        ms(100.0)
    )
}

/// The nearest-rank percentile `q` (0–100] of `xs`.
pub fn percentile(xs: &[Duration], q: f64) -> Option<Duration> {
    if xs.is_empty() {
        return None;
    }
    let mut sorted = xs.to_vec();
    sorted.sort();
    let rank = ((q / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The reconcile passes mkube ran so far, from `/metrics` (the pass histogram's count).
pub async fn reconcile_passes(http: &reqwest::Client, api: &str) -> Result<u64> {
    let text = http
        .get(format!("{api}/metrics"))
        .send()
        .await
        .context("GET /metrics")?
        .error_for_status()?
        .text()
        .await?;
    passes_in(&text).context("no mkube_reconcile_pass_seconds_count in /metrics")
}

fn passes_in(metrics: &str) -> Option<u64> {
    metrics.lines().find_map(|l| {
        let rest = l.strip_prefix("mkube_reconcile_pass_seconds_count")?;
        let value = rest.split_whitespace().last()?;
        value.parse::<f64>().ok().map(|v| v as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_descriptors_of_a_live_process() {
        let me = ProcessSample::of(std::process::id()).unwrap();
        assert!(me.rss_kib > 0 && me.fds > 0, "{me:?}");
        assert_eq!(vm_rss_kib("Name: x\nVmRSS:\t  2048 kB\n"), Some(2048));
        assert_eq!(vm_rss_kib("Name: x\n"), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        let xs = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&xs, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&xs, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&xs, 100.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&ms(&[7]), 99.0), Some(Duration::from_millis(7)));
        assert_eq!(percentile(&[], 99.0), None);
        let mut l = Latencies::default();
        l.record(Duration::from_millis(900), true);
        l.record(Duration::from_millis(3), false);
        assert_eq!(l.p99_during_faults(), Some(Duration::from_millis(900)));
        assert_eq!(
            l.describe(),
            "during faults: n=1 p50=900ms p99=900ms max=900ms; quiet: n=1 p50=3ms p99=3ms max=3ms"
        );
    }

    #[test]
    fn the_pass_count_from_either_exposition() {
        let classic = "# TYPE mkube_reconcile_pass_seconds histogram\nmkube_reconcile_pass_seconds_bucket{le=\"+Inf\"} 12\nmkube_reconcile_pass_seconds_sum 0.5\nmkube_reconcile_pass_seconds_count 12\n";
        assert_eq!(passes_in(classic), Some(12));
        assert_eq!(passes_in("mkube_other 1\n"), None);
    }
}
