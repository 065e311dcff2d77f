//! One list out of several nodes' lists (issue 16), spliced from their JSON text: each
//! node's `items` (of a `PodList`) or `rows` (of a Table) are kept as raw text and joined
//! after this node's own, so a fleet list never builds a JSON tree of every pod.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// The entries of one node's list.
#[derive(Deserialize)]
struct Entries<'a> {
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    rows: Option<Vec<&'a RawValue>>,
}

impl<'a> Entries<'a> {
    fn take(self) -> Option<(&'static str, Vec<&'a RawValue>)> {
        match (self.items, self.rows) {
            (Some(items), _) => Some(("items", items)),
            (None, Some(rows)) => Some(("rows", rows)),
            (None, None) => None,
        }
    }
}

/// This node's list `own` with the entries of `others` (other nodes' list bodies) and then
/// `extra` (entries already serialised) appended; `None` when `own` is not a list.
/// Another node's body that is not a list of the same kind adds nothing.
pub fn splice(own: &[u8], others: &[&str], extra: &[String]) -> Option<String> {
    let top: BTreeMap<&str, &RawValue> = serde_json::from_slice(own).ok()?;
    let (key, mut entries) = serde_json::from_slice::<Entries>(own).ok()?.take()?;
    let theirs: Vec<Entries> = others
        .iter()
        .filter_map(|body| serde_json::from_str(body).ok())
        .collect();
    for e in theirs {
        if let Some((k, list)) = e.take()
            && k == key
        {
            entries.extend(list);
        }
    }
    let joined = entries
        .iter()
        .map(|e| e.get())
        .chain(extra.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(",");
    let mut out = String::with_capacity(own.len() + joined.len());
    out.push('{');
    for (i, (k, v)) in top.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k).ok()?);
        out.push(':');
        if *k == key {
            out.push('[');
            out.push_str(&joined);
            out.push(']');
        } else {
            out.push_str(v.get());
        }
    }
    out.push('}');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::splice;
    use serde_json::{Value, json};

    fn spliced(own: Value, others: &[Value], extra: &[Value]) -> Value {
        let others: Vec<String> = others.iter().map(Value::to_string).collect();
        let others: Vec<&str> = others.iter().map(String::as_str).collect();
        let extra: Vec<String> = extra.iter().map(Value::to_string).collect();
        let text = splice(own.to_string().as_bytes(), &others, &extra).expect("a list");
        serde_json::from_str(&text).expect("valid JSON")
    }

    #[test]
    fn items_and_rows_are_joined_in_order_and_the_rest_kept() {
        let own =
            json!({"kind": "PodList", "metadata": {"resourceVersion": "7"}, "items": [{"n": "a"}]});
        let other = json!({"kind": "PodList", "items": [{"n": "b"}, {"n": "c"}]});
        let got = spliced(own, &[other], &[json!({"n": "d"})]);
        assert_eq!(got["kind"], "PodList");
        assert_eq!(got["metadata"]["resourceVersion"], "7");
        assert_eq!(
            got["items"],
            json!([{"n": "a"}, {"n": "b"}, {"n": "c"}, {"n": "d"}])
        );

        let own = json!({"kind": "Table", "columnDefinitions": [1], "rows": []});
        let got = spliced(
            own,
            &[json!({"kind": "Table", "rows": [{"cells": [1]}]})],
            &[],
        );
        assert_eq!(got["rows"], json!([{"cells": [1]}]));
        assert_eq!(got["columnDefinitions"], json!([1]));
    }

    #[test]
    fn bodies_that_are_not_lists_of_the_same_kind_add_nothing() {
        let own = json!({"items": [1]});
        let got = spliced(
            own,
            &[json!({"rows": [2]}), json!("text"), json!({"items": 5})],
            &[],
        );
        assert_eq!(got["items"], json!([1]));
        assert!(splice(b"not json", &[], &[]).is_none());
        assert!(splice(b"{\"kind\":\"Status\"}", &[], &[]).is_none());
    }
}
