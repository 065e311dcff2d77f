//! One item of mkube's reports — DNS validation (`GET /api/v1/dns/validate`, R12) and the
//! consistency report (`GET /api/v1/consistency`, §6.1): `{name, status, message, details?}`,
//! and the `{pass, warn, fail}` summary counted over items.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub message: String,
    /// Omitted when empty (§6.1).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub details: String,
}

impl Check {
    pub fn new(
        name: impl Into<String>,
        status: Status,
        message: impl Into<String>,
        details: impl Into<String>,
    ) -> Check {
        Check {
            name: name.into(),
            status,
            message: message.into(),
            details: details.into(),
        }
    }

    pub fn pass(
        name: impl Into<String>,
        message: impl Into<String>,
        details: impl Into<String>,
    ) -> Check {
        Check::new(name, Status::Pass, message, details)
    }

    pub fn warn(
        name: impl Into<String>,
        message: impl Into<String>,
        details: impl Into<String>,
    ) -> Check {
        Check::new(name, Status::Warn, message, details)
    }

    pub fn fail(
        name: impl Into<String>,
        message: impl Into<String>,
        details: impl Into<String>,
    ) -> Check {
        Check::new(name, Status::Fail, message, details)
    }
}

/// How many items have each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
}

impl Summary {
    pub fn of<'a>(checks: impl IntoIterator<Item = &'a Check>) -> Summary {
        let mut s = Summary::default();
        for c in checks {
            match c.status {
                Status::Pass => s.pass += 1,
                Status::Warn => s.warn += 1,
                Status::Fail => s.fail += 1,
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_omitted_when_empty_and_statuses_are_lowercase() {
        let with = serde_json::to_value(Check::fail("a", "m", "d")).unwrap();
        assert_eq!(
            with,
            serde_json::json!({"name": "a", "status": "fail", "message": "m", "details": "d"})
        );
        let without = serde_json::to_value(Check::pass("b", "ok", "")).unwrap();
        assert_eq!(
            without,
            serde_json::json!({"name": "b", "status": "pass", "message": "ok"})
        );
        let checks = [
            Check::pass("x", "", ""),
            Check::warn("y", "", ""),
            Check::pass("z", "", ""),
        ];
        assert_eq!(
            Summary::of(&checks),
            Summary {
                pass: 2,
                warn: 1,
                fail: 0
            }
        );
    }
}
