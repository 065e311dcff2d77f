//! String-typed RouterOS values: every value in a reply is a string.
//!
//! Helpers to read rows tolerantly (missing keys are empty/false, numbers and
//! booleans accepted where strings are expected) and to format request values.

use serde_json::{Map, Value};

/// One row of a RouterOS reply, read tolerantly.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row(pub Map<String, Value>);

impl Row {
    /// Wraps a JSON value; anything but an object gives an empty row.
    pub fn from_value(value: Value) -> Row {
        match value {
            Value::Object(map) => Row(map),
            _ => Row::default(),
        }
    }

    /// The property as a string; missing or null is `""`.
    pub fn str(&self, key: &str) -> String {
        self.opt(key).unwrap_or_default()
    }

    /// The property as a string, `None` when absent.
    pub fn opt(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(if *b { "true" } else { "false" }.to_string()),
            Value::Number(n) => Some(n.to_string()),
            other => Some(other.to_string()),
        }
    }

    /// The first present property among `keys` (for renamed properties).
    pub fn first_of(&self, keys: &[&str]) -> String {
        keys.iter().find_map(|k| self.opt(k)).unwrap_or_default()
    }

    /// A flag: `"true"`/`"yes"` are true; anything else, or absent, is false.
    pub fn flag(&self, key: &str) -> bool {
        self.opt(key).is_some_and(|v| parse_bool(&v))
    }

    /// Whether the property is present at all.
    pub fn has(&self, key: &str) -> bool {
        self.0.get(key).is_some_and(|v| !v.is_null())
    }

    /// A number; absent or unparsable is 0.
    pub fn u64(&self, key: &str) -> u64 {
        parse_u64(&self.str(key))
    }
}

/// `"true"`, `"yes"` (any case) are true; everything else false.
pub fn parse_bool(s: &str) -> bool {
    let s = s.trim();
    s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("yes")
}

/// The request form of a boolean: `"yes"`/`"no"` (every transport accepts it).
pub fn fmt_bool(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// A decimal number; anything unparsable is 0.
pub fn parse_u64(s: &str) -> u64 {
    s.trim().parse().unwrap_or(0)
}

/// A device path as RouterOS stores it: one leading `/` stripped.
pub fn normalize_path(p: &str) -> &str {
    p.strip_prefix('/').unwrap_or(p)
}

/// A comma list split into trimmed, non-empty items.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Items joined into one comma-separated string.
pub fn join_list<S: AsRef<str>>(items: &[S]) -> String {
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(",")
}

/// The first IPv4 CIDR of a veth `address` comma list.
pub fn first_ipv4_cidr(address: &str) -> Option<String> {
    split_list(address).into_iter().find(|a| {
        let ip = a.split('/').next().unwrap_or("");
        ip.parse::<std::net::Ipv4Addr>().is_ok()
    })
}

/// Turns a reply into rows: an array of objects, a single object (one row),
/// or anything else (no rows).
pub fn rows_of(value: Value) -> Vec<Row> {
    match value {
        Value::Array(items) => items.into_iter().map(Row::from_value).collect(),
        Value::Object(map) => vec![Row(map)],
        _ => Vec::new(),
    }
}

/// A singleton menu's reply: an object, or the first row of an array.
pub fn singleton_of(value: Value) -> Option<Row> {
    match value {
        Value::Object(map) => Some(Row(map)),
        Value::Array(items) => items.into_iter().next().map(Row::from_value),
        _ => None,
    }
}

/// The `ret` of an `add` reply (`{"ret":"*1A"}`), if any.
pub fn ret_id(value: &Value) -> Option<String> {
    match value {
        Value::Object(map) => map.get("ret").and_then(|v| v.as_str()).map(str::to_string),
        Value::Array(items) => items.first().and_then(ret_id),
        _ => None,
    }
}

/// A request body: a JSON object of string values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Props(Map<String, Value>);

impl Props {
    /// An empty body.
    pub fn new() -> Props {
        Props::default()
    }

    /// Sets a string property.
    pub fn set(mut self, key: &str, value: impl Into<String>) -> Props {
        self.0.insert(key.to_string(), Value::String(value.into()));
        self
    }

    /// Sets a string property only when non-empty.
    pub fn set_nonempty(self, key: &str, value: &str) -> Props {
        if value.is_empty() {
            self
        } else {
            self.set(key, value)
        }
    }

    /// Sets a list of words (`.query`, `.proplist` as an array).
    pub fn set_words(mut self, key: &str, words: &[String]) -> Props {
        let words = words.iter().cloned().map(Value::String).collect();
        self.0.insert(key.to_string(), Value::Array(words));
        self
    }

    /// Sets a boolean as `"yes"`/`"no"`.
    pub fn flag(self, key: &str, value: bool) -> Props {
        self.set(key, fmt_bool(value))
    }

    /// The property, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// The JSON object.
    pub fn as_value(&self) -> Value {
        Value::Object(self.0.clone())
    }

    /// The underlying map.
    pub fn map(&self) -> &Map<String, Value> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn row_reads_strings_and_tolerates_other_types() {
        let row = Row::from_value(json!({"a":"x","n":4,"b":true,"f":"yes","z":null}));
        assert_eq!(row.str("a"), "x");
        assert_eq!(row.str("n"), "4");
        assert_eq!(row.u64("n"), 4);
        assert!(row.flag("b"));
        assert!(row.flag("f"));
        assert!(!row.flag("missing"));
        assert_eq!(row.str("missing"), "");
        assert!(!row.has("z"));
        assert_eq!(row.first_of(&["nope", "a"]), "x");
    }

    #[test]
    fn bools() {
        assert!(parse_bool("true") && parse_bool("YES") && parse_bool("yes"));
        assert!(!parse_bool("false") && !parse_bool("no") && !parse_bool(""));
        assert_eq!(fmt_bool(true), "yes");
        assert_eq!(fmt_bool(false), "no");
    }

    #[test]
    fn paths_and_lists() {
        assert_eq!(normalize_path("/raid1/x"), "raid1/x");
        assert_eq!(normalize_path("raid1/x"), "raid1/x");
        assert_eq!(split_list(" a, b,,c "), vec!["a", "b", "c"]);
        assert_eq!(join_list(&["a", "b"]), "a,b");
        assert_eq!(
            first_ipv4_cidr("fd00::2/64,10.0.0.2/24").as_deref(),
            Some("10.0.0.2/24")
        );
        assert_eq!(first_ipv4_cidr("fd00::2/64"), None);
    }

    #[test]
    fn reply_shapes() {
        assert_eq!(rows_of(json!([])).len(), 0);
        assert_eq!(rows_of(json!([{"a":"1"},{"a":"2"}])).len(), 2);
        assert_eq!(rows_of(json!({"a":"1"})).len(), 1);
        assert_eq!(singleton_of(json!([{"v":"1"}])).unwrap().str("v"), "1");
        assert_eq!(singleton_of(json!({"v":"1"})).unwrap().str("v"), "1");
        assert!(singleton_of(json!([])).is_none());
        assert_eq!(ret_id(&json!({"ret":"*1A"})).as_deref(), Some("*1A"));
        assert_eq!(ret_id(&json!([])), None);
    }

    #[test]
    fn props_body() {
        let p = Props::new()
            .set("name", "x")
            .set_nonempty("cmd", "")
            .flag("logging", true);
        assert_eq!(p.as_value(), json!({"name":"x","logging":"yes"}));
    }
}
