//! `resourceVersion`: the log sequence of an object's last event (API-3). A pod's status also
//! follows what the device last showed (`actors::observations`), which changes without an
//! event; once it has, the pod's version carries that observation's generation too, written
//! `<seq>.<generation>`. Clients treat versions as opaque strings; mkube reads them back to
//! resume a watch (log records after `seq`, observation changes after `generation`) and
//! compares only `seq` for optimistic concurrency (a spec update does not conflict with the
//! device's state changing).

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResourceVersion {
    pub seq: u64,
    /// 0 when no observation has changed the object.
    pub generation: u64,
}

impl ResourceVersion {
    /// A version of the log alone.
    pub fn log(seq: u64) -> ResourceVersion {
        ResourceVersion { seq, generation: 0 }
    }
}

impl From<u64> for ResourceVersion {
    fn from(seq: u64) -> Self {
        ResourceVersion::log(seq)
    }
}

impl fmt::Display for ResourceVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.generation {
            0 => write!(f, "{}", self.seq),
            g => write!(f, "{}.{g}", self.seq),
        }
    }
}

impl FromStr for ResourceVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("resourceVersion: Invalid value: {s:?}: not a version this server issued");
        let (seq, generation) = match s.split_once('.') {
            Some((seq, g)) => (seq, g.parse().map_err(|_| bad())?),
            None => (s, 0),
        };
        Ok(ResourceVersion {
            seq: seq.parse().map_err(|_| bad())?,
            generation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        for v in [
            ResourceVersion::log(42),
            ResourceVersion {
                seq: 42,
                generation: 1764950000123,
            },
        ] {
            assert_eq!(v.to_string().parse::<ResourceVersion>().unwrap(), v);
        }
        assert_eq!(ResourceVersion::log(7).to_string(), "7");
        assert_eq!("7.3".parse::<ResourceVersion>().unwrap().generation, 3);
        for bad in ["", "x", "7.", ".3", "7.3.1", "-1", "7.x"] {
            assert!(bad.parse::<ResourceVersion>().is_err(), "{bad}");
        }
    }
}
