//! Fault switches (spec microdns-api.md §5): what a test can make the double do wrong.
//!
//! A [`Fault`] is a kind plus an optional `route` (a route template such as
//! `/api/v1/zones/{zone_id}/records`, or a concrete path prefix), an optional `method` and an
//! optional `count` ("next N matching requests only"). JSON form:
//! `{"kind":"status","code":503,"body":"down","route":"/api/v1/zones","method":"GET","count":1}`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// The REST port is closed (connections refused) until the fault is cleared.
    Refuse,
    /// Accept the request and never answer.
    Blackhole,
    /// Wait `ms` (plus up to `jitter_ms`) before handling the request.
    DelayMs {
        ms: u64,
        #[serde(default)]
        jitter_ms: u64,
    },
    /// Send headers and the first `after_bytes` of the body, then hang.
    StallBody {
        #[serde(default = "default_stall")]
        after_bytes: usize,
    },
    /// Answer with this status and plain-text body instead of the real reply.
    Status {
        code: u16,
        #[serde(default)]
        body: String,
    },
    /// 200 with a broken body: `truncated` (cut real JSON) or `wrong_shape` (an object).
    BadJson {
        #[serde(default)]
        mode: BadJsonMode,
    },
    /// Instant restart with an empty database (applied when set, not a standing rule).
    Wipe,
    /// List routes ignore `limit` and return `items` items; with `repeat` the list is
    /// cycled so every page is full (tests loop termination).
    PageOverride {
        items: usize,
        #[serde(default)]
        repeat: bool,
    },
    /// After the `after_page`-th (1-based) served record-list page, insert a record that
    /// sorts first (`insert`) or delete the zone's first record (`delete`).
    MutateBetweenPages {
        after_page: u64,
        #[serde(default)]
        action: Mutation,
    },
    /// 401 with an empty body unless `X-API-Key` equals `key` (`/health` stays open).
    RequireApiKey { key: String },
    /// `GET /zones` lists `filler` extra zones before the real ones (R2's blind spot).
    ZoneListCap { filler: usize },
}

fn default_stall() -> usize {
    8
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadJsonMode {
    #[default]
    Truncated,
    WrongShape,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mutation {
    #[default]
    Insert,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(flatten)]
    pub kind: FaultKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

impl Fault {
    /// A fault on every route and method, without a count.
    pub fn new(kind: FaultKind) -> Fault {
        Fault {
            kind,
            route: None,
            method: None,
            count: None,
        }
    }
    pub fn refuse() -> Fault {
        Fault::new(FaultKind::Refuse)
    }
    pub fn blackhole() -> Fault {
        Fault::new(FaultKind::Blackhole)
    }
    pub fn delay_ms(ms: u64) -> Fault {
        Fault::new(FaultKind::DelayMs { ms, jitter_ms: 0 })
    }
    pub fn status(code: u16, body: &str) -> Fault {
        Fault::new(FaultKind::Status {
            code,
            body: body.to_string(),
        })
    }
    pub fn bad_json() -> Fault {
        Fault::new(FaultKind::BadJson {
            mode: BadJsonMode::Truncated,
        })
    }
    pub fn require_api_key(key: &str) -> Fault {
        Fault::new(FaultKind::RequireApiKey {
            key: key.to_string(),
        })
    }
    /// Only requests to this route template (`/api/v1/zones/{zone_id}/records`) or path prefix.
    pub fn route(mut self, route: &str) -> Fault {
        self.route = Some(route.to_string());
        self
    }
    /// Only requests with this method.
    pub fn method(mut self, method: &str) -> Fault {
        self.method = Some(method.to_string());
        self
    }
    /// Only the next `n` matching requests.
    pub fn count(mut self, n: u64) -> Fault {
        self.count = Some(n);
        self
    }

    fn matches(&self, method: &str, template: &str, path: &str) -> bool {
        let m = self
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method));
        let r = self
            .route
            .as_deref()
            .is_none_or(|r| r == template || path.starts_with(r));
        m && r
    }
}

/// Standing rules plus per-rule state.
#[derive(Debug, Default)]
pub struct Faults {
    pub rules: Vec<Fault>,
    /// Record-list pages served while a `mutate_between_pages` rule stands.
    pub pages_served: u64,
}

impl Faults {
    pub fn refusing(&self) -> bool {
        self.rules.iter().any(|f| f.kind == FaultKind::Refuse)
    }

    /// Rules firing for this request, in the order set; each consumes one of its count.
    pub fn fire(&mut self, method: &str, template: &str, path: &str) -> Vec<FaultKind> {
        let mut fired = Vec::new();
        self.rules.retain_mut(|f| {
            if f.kind == FaultKind::Refuse || !f.matches(method, template, path) {
                return true;
            }
            fired.push(f.kind.clone());
            match f.count.as_mut() {
                Some(n) => {
                    *n = n.saturating_sub(1);
                    *n > 0
                }
                None => true,
            }
        });
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form_and_count() {
        let f: Fault = serde_json::from_str(
            r#"{"kind":"status","code":503,"body":"x","route":"/api/v1/zones","count":1}"#,
        )
        .expect("parses");
        assert_eq!(
            f.kind,
            FaultKind::Status {
                code: 503,
                body: "x".into()
            }
        );
        let mut fs = Faults {
            rules: vec![f],
            ..Default::default()
        };
        assert_eq!(fs.fire("GET", "/api/v1/zones", "/api/v1/zones").len(), 1);
        assert!(fs.fire("GET", "/api/v1/zones", "/api/v1/zones").is_empty());
    }
}
