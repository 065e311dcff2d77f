//! What every acknowledged write promised: the state the end must show per object.
//!
//! The workload is sequential, so the last acknowledged write of an object is what it must
//! show at the end. A write whose answer never came (a connection cut by a kill, a timeout)
//! may or may not have happened: the object is then `uncertain` until the next acknowledged
//! write of it, and is left out of the "lost" count. A 503 is mkube saying "write refused,
//! nothing changed": taken at its word, the promise before it still holds, so a refused write
//! that took effect after all shows up as a broken promise.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Promise {
    /// The pod exists with env `GEN` = this generation.
    Pod {
        generation: u64,
    },
    /// The ConfigMap exists with key `v` = this value.
    ConfigMap {
        value: String,
    },
    Absent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Pod,
    ConfigMap,
}

#[derive(Debug, Default)]
pub struct Ledger {
    /// (kind, name) → the last acknowledged promise.
    promises: BTreeMap<(Kind, String), Promise>,
    uncertain: BTreeMap<(Kind, String), u32>,
    pub acked: u64,
    pub refused: u64,
    pub unavailable: u64,
    pub unanswered: u64,
}

/// How the API answered one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 2xx: acknowledged, it must hold.
    Acked,
    /// A definite refusal (4xx): nothing changed.
    Refused,
    /// 503 (refused while NATS or replay is not there; nothing changed) or a refused
    /// connection (mkube is down).
    Unavailable,
    /// No answer or a 5xx other than 503: it may have happened.
    Unknown,
}

impl Ledger {
    pub fn record(&mut self, kind: Kind, name: &str, promise: Promise, answer: Answer) {
        let key = (kind, name.to_string());
        match answer {
            Answer::Acked => {
                self.acked += 1;
                self.uncertain.remove(&key);
                self.promises.insert(key, promise);
            }
            Answer::Refused => self.refused += 1,
            Answer::Unavailable => self.unavailable += 1,
            Answer::Unknown => {
                self.unanswered += 1;
                *self.uncertain.entry(key).or_default() += 1;
            }
        }
    }

    /// What the workload believes exists now (for choosing the next write); an uncertain
    /// object counts as whatever it last promised.
    pub fn believed(&self, kind: Kind, name: &str) -> Option<&Promise> {
        self.promises.get(&(kind, name.to_string()))
    }

    pub fn is_uncertain(&self, kind: Kind, name: &str) -> bool {
        self.uncertain.contains_key(&(kind, name.to_string()))
    }

    /// The promises the end is checked against (uncertain objects left out).
    pub fn checkable(&self) -> impl Iterator<Item = (Kind, &str, &Promise)> {
        self.promises
            .iter()
            .filter(|(k, _)| !self.uncertain.contains_key(*k))
            .map(|((kind, name), p)| (*kind, name.as_str(), p))
    }

    pub fn uncertain_count(&self) -> usize {
        self.uncertain.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_acknowledged_write_wins_and_unknown_answers_are_left_out() {
        let mut l = Ledger::default();
        l.record(
            Kind::Pod,
            "p0",
            Promise::Pod { generation: 1 },
            Answer::Acked,
        );
        l.record(Kind::Pod, "p0", Promise::Absent, Answer::Refused);
        l.record(Kind::Pod, "p0", Promise::Absent, Answer::Unavailable);
        assert_eq!(l.checkable().count(), 1);
        l.record(Kind::Pod, "p0", Promise::Absent, Answer::Unknown);
        assert_eq!(l.checkable().count(), 0);
        l.record(Kind::Pod, "p0", Promise::Absent, Answer::Acked);
        let all: Vec<_> = l.checkable().collect();
        assert_eq!(all, vec![(Kind::Pod, "p0", &Promise::Absent)]);
        assert_eq!(
            (l.acked, l.refused, l.unavailable, l.unanswered),
            (2, 1, 1, 1)
        );
    }
}
