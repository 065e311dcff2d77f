//! The soak's result and its one-line summary.

#[derive(Debug, Default)]
pub struct Outcome {
    pub seed: u64,
    pub minutes: f64,
    pub faults: u32,
    pub writes_acked: u64,
    pub lost: Vec<String>,
    pub duplicates: Vec<String>,
    pub leaks: Vec<String>,
    pub converged: bool,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.converged
            && self.lost.is_empty()
            && self.duplicates.is_empty()
            && self.leaks.is_empty()
    }

    /// `soak: seed=S minutes=N faults=F writes_acked=A writes_lost=L duplicates=D leaks=K converged=yes|no`
    pub fn line(&self) -> String {
        format!(
            "soak: seed={} minutes={} faults={} writes_acked={} writes_lost={} duplicates={} leaks={} converged={}",
            self.seed,
            self.minutes,
            self.faults,
            self.writes_acked,
            self.lost.len(),
            self.duplicates.len(),
            self.leaks.len(),
            if self.converged { "yes" } else { "no" }
        )
    }

    /// Each finding on its own line, before the summary.
    pub fn details(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.lost.iter().map(|x| format!("soak: lost: {x}")));
        out.extend(
            self.duplicates
                .iter()
                .map(|x| format!("soak: duplicate: {x}")),
        );
        out.extend(self.leaks.iter().map(|x| format!("soak: leak: {x}")));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_has_every_figure_and_fails_on_any_finding() {
        let mut o = Outcome {
            seed: 3,
            minutes: 2.0,
            faults: 5,
            writes_acked: 100,
            converged: true,
            ..Outcome::default()
        };
        assert_eq!(
            o.line(),
            "soak: seed=3 minutes=2 faults=5 writes_acked=100 writes_lost=0 duplicates=0 leaks=0 converged=yes"
        );
        assert!(o.passed());
        o.leaks.push("veth x".into());
        assert!(!o.passed());
        o.leaks.clear();
        o.converged = false;
        assert!(!o.passed());
    }
}
