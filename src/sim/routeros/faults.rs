//! Fault injection rules (spec §5.2): error replies and transport faults per path pattern.

use rand::RngExt;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    Error,
    Eof,
    Hang,
    SlowBody,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    #[serde(default)]
    pub method: Option<String>,
    pub path: String,
    pub kind: FaultKind,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub count: Option<u64>,
}

/// `*` matches any run of characters; a pattern without `*` is a prefix.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    if !pattern.contains('*') {
        return path.starts_with(pattern);
    }
    glob(pattern.as_bytes(), path.as_bytes())
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len()).any(|i| glob(&p[1..], &s[i..])),
        Some(c) => s.first() == Some(c) && glob(&p[1..], &s[1..]),
    }
}

/// Picks the first rule that fires for this request, consuming one of its `count`.
pub fn pick(
    faults: &mut Vec<Fault>,
    method: &str,
    path: &str,
    rng: &mut impl rand::Rng,
) -> Option<Fault> {
    let idx = faults.iter().position(|f| {
        f.method
            .as_deref()
            .map(|m| m.eq_ignore_ascii_case(method))
            .unwrap_or(true)
            && path_matches(&f.path, path)
    })?;
    if let Some(rate) = faults[idx].rate
        && rng.random::<f64>() >= rate
    {
        return None;
    }
    let fired = faults[idx].clone();
    if let Some(n) = faults[idx].count.as_mut() {
        *n = n.saturating_sub(1);
        if *n == 0 {
            faults.remove(idx);
        }
    }
    Some(fired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(path_matches("/rest/container", "/rest/container/start"));
        assert!(path_matches("/rest/*/start", "/rest/container/start"));
        assert!(!path_matches("/rest/*/stop", "/rest/container/start"));
    }
}
