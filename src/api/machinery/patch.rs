//! PATCH bodies. `application/merge-patch+json` is RFC 7386. `kubectl apply` (client-side)
//! sends `application/strategic-merge-patch+json`; it is accepted as a merge patch with the
//! parts of strategic merge kubectl relies on: `$`-directives are dropped
//! (`$setElementOrder/…` orders a merged list, `{"$patch": "delete"}` removes an element), and
//! lists of objects with a merge key (`name`, `mountPath` for `volumeMounts`, `containerPort`
//! for `ports`) are merged element by element instead of replaced. JSON patch is refused (415).

use crate::api::machinery::status::ApiError;
use actix_web::HttpRequest;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    Strategic,
}

pub fn kind_of(req: &HttpRequest) -> Result<PatchKind, ApiError> {
    let ct = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        "application/merge-patch+json" => Ok(PatchKind::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
        other => Err(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format {other:?} - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json"
        ))),
    }
}

pub fn apply(target: &Value, patch: &Value, kind: PatchKind) -> Value {
    match kind {
        PatchKind::Merge => merge(target, patch, false),
        PatchKind::Strategic => merge(target, patch, true),
    }
}

fn merge_key(field: &str) -> &'static str {
    match field {
        "volumeMounts" | "volumeDevices" => "mountPath",
        "ports" => "containerPort",
        _ => "name",
    }
}

fn merge(target: &Value, patch: &Value, strategic: bool) -> Value {
    let Value::Object(p) = patch else {
        return strip(patch, strategic);
    };
    let mut out: Map<String, Value> = match target {
        Value::Object(t) => t.clone(),
        _ => Map::new(),
    };
    for (k, v) in p {
        if strategic && k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            out.remove(k);
            continue;
        }
        let order = p
            .get(&format!("$setElementOrder/{k}"))
            .filter(|_| strategic);
        let merged = match (out.get(k), v) {
            (Some(Value::Array(old)), Value::Array(new)) if strategic && keyed(new, k) => {
                Value::Array(merge_list(old, new, merge_key(k), order))
            }
            (Some(old), Value::Object(_)) => merge(old, v, strategic),
            _ => strip(v, strategic),
        };
        out.insert(k.clone(), merged);
    }
    Value::Object(out)
}

/// Strategic lists: every element an object carrying the merge key.
fn keyed(list: &[Value], field: &str) -> bool {
    let key = merge_key(field);
    !list.is_empty() && list.iter().all(|e| e.get(key).is_some())
}

fn merge_list(old: &[Value], new: &[Value], key: &str, order: Option<&Value>) -> Vec<Value> {
    let mut items: Vec<Value> = old.to_vec();
    for n in new {
        let id = n.get(key);
        let pos = items.iter().position(|o| o.get(key) == id);
        let delete = n.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                items.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => items[i] = merge(&items[i], n, true),
            (None, false) => items.push(strip(n, true)),
        }
    }
    if let Some(Value::Array(order)) = order {
        let rank = |v: &Value| {
            order
                .iter()
                .position(|o| o.get(key) == v.get(key))
                .unwrap_or(usize::MAX)
        };
        items.sort_by_key(rank);
    }
    items
}

/// A patch value inserted as is: merge-patch nulls inside it are kept (RFC 7386 applies them
/// only against existing objects), strategic directives are removed.
fn strip(v: &Value, strategic: bool) -> Value {
    match v {
        Value::Object(m) if strategic => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip(v, true)))
                .collect(),
        ),
        Value::Array(a) if strategic => Value::Array(a.iter().map(|e| strip(e, true)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let t = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        let p = json!({"a": "z", "c": {"f": null}, "l": [3]});
        assert_eq!(
            apply(&t, &p, PatchKind::Merge),
            json!({"a": "z", "c": {"d": "e"}, "l": [3]})
        );
    }

    #[test]
    fn strategic_patch_merges_containers_by_name_and_drops_directives() {
        let t = json!({"spec": {"containers": [
            {"name": "web", "image": "v1", "command": ["x"]},
            {"name": "side", "image": "s1"}
        ]}});
        let p = json!({"spec": {
            "$setElementOrder/containers": [{"name": "side"}, {"name": "web"}],
            "containers": [{"name": "web", "image": "v2"}]
        }});
        let out = apply(&t, &p, PatchKind::Strategic);
        assert_eq!(
            out,
            json!({"spec": {"containers": [
                {"name": "side", "image": "s1"},
                {"name": "web", "image": "v2", "command": ["x"]}
            ]}})
        );
        let del = json!({"spec": {"containers": [{"name": "side", "$patch": "delete"}]}});
        let out = apply(&out, &del, PatchKind::Strategic);
        assert_eq!(out["spec"]["containers"].as_array().unwrap().len(), 1);
    }
}
