//! Request bodies into Kubernetes objects: JSON syntax, `kind`/`apiVersion`, and unknown
//! fields (`?fieldValidation=Strict|Warn|Ignore`; absent means `Strict` here, so a typo never
//! silently drops part of a spec).

use crate::api::machinery::status::ApiError;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// How unknown fields are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Strict,
    Lenient,
}

impl FieldValidation {
    pub fn from_query(query: &str) -> Result<FieldValidation, ApiError> {
        let value = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("fieldValidation="));
        match value {
            None | Some("Strict") | Some("") => Ok(FieldValidation::Strict),
            Some("Warn") | Some("Ignore") => Ok(FieldValidation::Lenient),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
            ))),
        }
    }
}

/// DNS-1123 label: what a pod or container name must be to become a container, veth and DNS name.
pub fn valid_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if name.is_empty() {
        Err("pod name is required".into())
    } else if name.len() > 63 || !ok_chars || name.starts_with('-') || name.ends_with('-') {
        Err(format!(
            "metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', start and end with an alphanumeric character, and be at most 63 characters"
        ))
    } else {
        Ok(())
    }
}

/// Puts an object decoded from a body in its place: its namespace and (for PUT and PATCH)
/// name must be the request's, or absent (then the request's are taken). Returns its name,
/// which may still be empty on a create.
pub fn place<T>(obj: &mut T, ns: &str, name: Option<&str>) -> Result<String, ApiError>
where
    T: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
{
    valid_name(ns).map_err(|e| ApiError::bad_request(format!("namespace: {e}")))?;
    let meta = obj.metadata_mut();
    if let Some(body_ns) = meta.namespace.as_deref().filter(|n| *n != ns) {
        return Err(ApiError::bad_request(format!(
            "the namespace of the object ({body_ns}) does not match the namespace on the request ({ns})"
        )));
    }
    meta.namespace = Some(ns.to_string());
    if let Some(path_name) = name {
        match meta.name.as_deref() {
            None | Some("") => meta.name = Some(path_name.to_string()),
            Some(n) if n != path_name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the request ({path_name})"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(meta.name.clone().unwrap_or_default())
}

/// Parses a create or replace body: YAML when the request says so (`application/yaml`, as
/// the Kubernetes API accepts; the console sends pasted manifests so), else JSON.
pub fn object_body(
    req: &actix_web::HttpRequest,
    body: &[u8],
    what: &str,
) -> Result<Value, ApiError> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !matches!(
        essence,
        "application/yaml" | "application/x-yaml" | "text/yaml"
    ) {
        return json_object(body, what);
    }
    let value: Value = serde_yaml_ng::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid {what} YAML: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "invalid {what} YAML: expected a mapping"
        )));
    }
    Ok(value)
}

/// Parses a JSON object body; `what` names it in errors (`pod`, `configmap`).
pub fn json_object(body: &[u8], what: &str) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid {what} JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "invalid {what} JSON: expected an object"
        )));
    }
    Ok(value)
}

/// Checks `kind`/`apiVersion` (when present) and decodes `value` as `T`.
pub fn object<T: DeserializeOwned>(
    value: Value,
    kind: &str,
    what: &str,
    validation: FieldValidation,
) -> Result<T, ApiError> {
    if let Some(k) = value.get("kind")
        && k.as_str() != Some(kind)
    {
        return Err(ApiError::bad_request(format!(
            "invalid {what} JSON: kind {k} is not {kind:?}"
        )));
    }
    if let Some(v) = value.get("apiVersion")
        && v.as_str() != Some("v1")
    {
        return Err(ApiError::bad_request(format!(
            "invalid {what} JSON: apiVersion {v} is not \"v1\""
        )));
    }
    let mut unknown = Vec::new();
    let decoded: T = serde_ignored::deserialize(value, |path| unknown.push(field_path(&path)))
        .map_err(|e| ApiError::bad_request(format!("invalid {what} JSON: {e}")))?;
    if validation == FieldValidation::Strict
        && let Some(first) = unknown.first()
    {
        let all: Vec<String> = unknown
            .iter()
            .map(|p| format!("unknown field {p:?}"))
            .collect();
        tracing::debug!(field = %first, "unknown field refused");
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            all.join(", ")
        )));
    }
    Ok(decoded)
}

/// serde_ignored's path (`spec.?.containers.?.0.imag`, `?` for optional layers) as Kubernetes
/// writes a field (`spec.containers[0].imag`).
fn field_path(path: &serde_ignored::Path) -> String {
    let mut out = String::new();
    for part in path.to_string().split('.').filter(|p| *p != "?") {
        if part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let v = json!({"metadata": {"name": "a"}, "spec": {"containers": [{"name": "c", "imag": "x"}], "bogus": 1}});
        let err = object::<Pod>(v.clone(), "Pod", "pod", FieldValidation::Strict).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("spec.bogus"), "{text}");
        assert!(text.contains("\"spec.containers[0].imag\""), "{text}");
        assert!(object::<Pod>(v, "Pod", "pod", FieldValidation::Lenient).is_ok());
    }

    #[test]
    fn kinds_and_versions_are_checked() {
        let v = json!({"kind": "ConfigMap", "metadata": {"name": "a"}});
        assert!(object::<Pod>(v, "Pod", "pod", FieldValidation::Strict).is_err());
        let v = json!({"kind": "Pod", "apiVersion": "v2", "metadata": {"name": "a"}});
        assert!(object::<Pod>(v, "Pod", "pod", FieldValidation::Strict).is_err());
        let v = json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a"}});
        assert!(object::<Pod>(v, "Pod", "pod", FieldValidation::Strict).is_ok());
        assert!(FieldValidation::from_query("fieldValidation=Nope").is_err());
        assert_eq!(
            FieldValidation::from_query("a=b&fieldValidation=Ignore").unwrap(),
            FieldValidation::Lenient
        );
    }
}
