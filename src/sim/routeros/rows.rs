//! Rows, values, ids, filters, `.proplist` and `.query` (spec §1.4–§1.7).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One printed row: property name → string value. Unset properties are absent.
pub type Row = BTreeMap<String, String>;

/// `*` + upper-case hex.
pub fn fmt_id(n: u64) -> String {
    format!("*{n:X}")
}

/// Parses `*1F` (case-insensitive hex) into its number.
pub fn parse_id(s: &str) -> Option<u64> {
    let hex = s.strip_prefix('*')?;
    if hex.is_empty() {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// JSON request value → RouterOS string (§1.4). `null` means "not given".
pub fn value_to_string(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "true" } else { "false" }.into()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(value_to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
        Value::Object(_) => Some(v.to_string()),
    }
}

/// `yes`/`true` → `"true"`, `no`/`false` → `"false"`.
pub fn normalize_bool(s: &str) -> Option<&'static str> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "true" => Some("true"),
        "no" | "false" => Some("false"),
        _ => None,
    }
}

pub fn is_true(row: &Row, key: &str) -> bool {
    row.get(key).map(|v| v == "true").unwrap_or(false)
}

/// Splits a comma list, trimming blanks.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// `.proplist` as array or comma string.
pub fn parse_proplist(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(value_to_string)
            .flat_map(|s| split_list(&s))
            .collect(),
        other => value_to_string(other)
            .map(|s| split_list(&s))
            .unwrap_or_default(),
    }
}

/// `.query` as array of words, or a bare string holding one word.
pub fn parse_query(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().filter_map(value_to_string).collect(),
        other => value_to_string(other).into_iter().collect(),
    }
}

/// Exact-match, ANDed filters.
pub fn matches_filters(row: &Row, filters: &[(String, String)]) -> bool {
    filters
        .iter()
        .all(|(k, v)| row.get(k).map(|x| x == v).unwrap_or(v.is_empty()))
}

/// Native-API query stack: `prop=value`, `prop` (present), `-prop` (absent),
/// `#|`, `#&`, `#!`; whatever is left on the stack is ANDed.
pub fn eval_query(row: &Row, words: &[String]) -> bool {
    let mut stack: Vec<bool> = Vec::new();
    for w in words {
        let w = w.strip_prefix('?').unwrap_or(w);
        match w {
            "#|" => {
                let b = stack.pop().unwrap_or(false);
                let a = stack.pop().unwrap_or(false);
                stack.push(a || b);
            }
            "#&" => {
                let b = stack.pop().unwrap_or(true);
                let a = stack.pop().unwrap_or(true);
                stack.push(a && b);
            }
            "#!" => {
                let a = stack.pop().unwrap_or(false);
                stack.push(!a);
            }
            _ => {
                if let Some((k, v)) = w.split_once('=') {
                    stack.push(row.get(k).map(|x| x == v).unwrap_or(v.is_empty()));
                } else if let Some(k) = w.strip_prefix('-') {
                    stack.push(!row.contains_key(k));
                } else {
                    stack.push(row.contains_key(w));
                }
            }
        }
    }
    stack.into_iter().all(|b| b)
}

pub fn apply_proplist(row: Row, proplist: Option<&[String]>) -> Row {
    match proplist {
        None => row,
        Some(keep) => row
            .into_iter()
            .filter(|(k, _)| keep.iter().any(|p| p == k))
            .collect(),
    }
}

pub fn row_json(row: &Row) -> Value {
    let map: Map<String, Value> = row
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Value::Object(map)
}

pub fn rows_json(rows: &[Row]) -> Value {
    Value::Array(rows.iter().map(row_json).collect())
}

/// Decodes `%XX` escapes in a URL path segment.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a query string into decoded (key, value) pairs (`+` is a space).
pub fn parse_query_string(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        assert_eq!(fmt_id(31), "*1F");
        assert_eq!(parse_id("*1f"), Some(31));
        assert_eq!(parse_id("1F"), None);
    }

    #[test]
    fn query_stack() {
        let mut r = Row::new();
        r.insert("type".into(), "vlan".into());
        let q = |w: &[&str]| eval_query(&r, &w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(q(&["type=ether", "type=vlan", "#|"]));
        assert!(!q(&["type=ether", "type=vlan", "#&"]));
        assert!(q(&["type=ether", "#!"]));
    }

    #[test]
    fn decode() {
        assert_eq!(percent_decode("%2A1F"), "*1F");
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
