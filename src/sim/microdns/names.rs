//! Name rules of microdns (spec microdns-api.md §1.7) and record data checks (§1.6).

use std::net::{Ipv4Addr, Ipv6Addr};

use serde_json::Value;

/// Checks a record or zone name; the error text is the 400 body.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name must not be empty".into());
    }
    if name == "@" || name == "*" {
        return Ok(());
    }
    if name.len() > 253 {
        return Err(format!(
            "name too long: {} characters (max 253)",
            name.len()
        ));
    }
    let rest = name.strip_prefix("*.").unwrap_or(name);
    for label in rest.split('.') {
        if label.is_empty() {
            return Err(format!("empty label in name: {name}"));
        }
        if label.len() > 63 {
            return Err(format!("label too long: {label}"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!("invalid characters in label: {label}"));
        }
    }
    Ok(())
}

pub const TYPES: &[&str] = &[
    "A", "AAAA", "CNAME", "NS", "PTR", "TXT", "MX", "SRV", "CAA", "SOA",
];

/// Checks a `data` object `{type, data}`; the error text is the 422 body.
pub fn check_data(data: &Value) -> Result<String, String> {
    let obj = data
        .as_object()
        .ok_or("data: expected an object with `type` and `data`")?;
    let rtype = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or("data: missing field `type`")?;
    if !TYPES.contains(&rtype) {
        return Err(format!("data: unknown variant `{rtype}`"));
    }
    let value = obj.get("data").ok_or("data: missing field `data`")?;
    let bad = || format!("data: invalid {rtype} data: {value}");
    let ok = match rtype {
        "A" => value
            .as_str()
            .is_some_and(|s| s.parse::<Ipv4Addr>().is_ok()),
        "AAAA" => value
            .as_str()
            .is_some_and(|s| s.parse::<Ipv6Addr>().is_ok()),
        "CNAME" | "NS" | "PTR" | "TXT" => value.is_string(),
        "MX" => has_fields(value, &[("preference", true), ("exchange", false)]),
        "SRV" => has_fields(
            value,
            &[
                ("priority", true),
                ("weight", true),
                ("port", true),
                ("target", false),
            ],
        ),
        "CAA" => has_fields(value, &[("flags", true), ("tag", false), ("value", false)]),
        _ => value.is_object(),
    };
    if ok {
        Ok(rtype.to_string())
    } else {
        Err(bad())
    }
}

/// Each field present; `true` means a number, `false` a string.
fn has_fields(v: &Value, fields: &[(&str, bool)]) -> bool {
    fields.iter().all(|(k, num)| match v.get(*k) {
        Some(f) if *num => f.as_u64().is_some_and(|n| n <= u64::from(u16::MAX)),
        Some(f) => f.is_string(),
        None => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        assert!(check_name("nginx.web").is_ok());
        assert!(check_name("@").is_ok());
        assert!(check_name("*.x").is_ok());
        assert!(check_name("Host_1").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a..b").is_err());
        assert!(check_name("bad name").is_err());
        assert!(check_name(&"a".repeat(64)).is_err());
    }

    #[test]
    fn data() {
        assert_eq!(
            check_data(&json!({"type":"A","data":"10.0.0.1"})).as_deref(),
            Ok("A")
        );
        assert!(check_data(&json!({"type":"A","data":"10.0.0"})).is_err());
        assert!(check_data(&json!({"type":"BOGUS","data":"x"})).is_err());
        assert!(check_data(&json!({"type":"MX","data":{"preference":10,"exchange":"m"}})).is_ok());
    }
}
