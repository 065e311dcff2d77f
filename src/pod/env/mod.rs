//! A container's environment as RouterOS receives it (issue 11 item 1; routeros-rest.md §4.5):
//! `envFrom` ConfigMaps first (keys in order, each with its prefix), then `env` entries in
//! order, a later definition of a name replacing the value of an earlier one in place.
//! Values may refer to earlier variables as `$(NAME)` (`$$` is a literal `$`; an unknown
//! reference stays as written), as Kubernetes expands them.
//!
//! Sources: `value`, `valueFrom.configMapKeyRef`, `valueFrom.fieldRef` (the paths in
//! [`FIELD_PATHS`]), `envFrom[].configMapRef`. mkube has no Secrets and no resource limits, so
//! `secretKeyRef`, `resourceFieldRef` and `envFrom[].secretRef` are refused at admission
//! ([`check`]). A missing ConfigMap or key that is not `optional` is an [`EnvError`]: the
//! container is not created and the pod waits (`CreateContainerConfigError`).

use k8s_openapi::api::core::v1::{ConfigMap, Container, EnvVar, Pod};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// `fieldRef.fieldPath` values mkube can fill (`metadata.labels['k']` and
/// `metadata.annotations['k']` too). `status.podIP` is the container's own address: every
/// container of an mkube pod has its own veth.
pub const FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "status.podIP",
    "status.hostIP",
];

/// What a container's environment is resolved against.
pub struct EnvContext<'a> {
    pub pod: &'a Pod,
    /// ConfigMaps of the pod's namespace by name.
    pub config_map: &'a dyn Fn(&str) -> Option<&'a ConfigMap>,
    pub node: &'a str,
    /// The container's address, once allocated.
    pub pod_ip: Option<Ipv4Addr>,
    /// The network's gateway.
    pub host_ip: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("container {container}: configmap {name:?} not found")]
    ConfigMapNotFound { container: String, name: String },
    #[error("container {container}: couldn't find key {key} in ConfigMap {namespace}/{name}")]
    KeyNotFound {
        container: String,
        namespace: String,
        name: String,
        key: String,
    },
    #[error("container {container}: {field}: {detail}")]
    Unsupported {
        container: String,
        field: String,
        detail: String,
    },
}

/// The resolved `(name, value)` list of `c`.
pub fn resolve(c: &Container, ctx: &EnvContext) -> Result<Vec<(String, String)>, EnvError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut define =
        |name: String, value: String, out: &mut Vec<(String, String)>| match index.get(&name) {
            Some(&i) => out[i].1 = value,
            None => {
                index.insert(name.clone(), out.len());
                out.push((name, value));
            }
        };
    for (i, source) in c.env_from.iter().flatten().enumerate() {
        if source.secret_ref.is_some() {
            return Err(unsupported(
                c,
                &format!("envFrom[{i}].secretRef"),
                "mkube has no Secrets",
            ));
        }
        let Some(r) = &source.config_map_ref else {
            continue;
        };
        let cm = match (ctx.config_map)(&r.name) {
            Some(cm) => cm,
            None if r.optional == Some(true) => continue,
            None => {
                return Err(EnvError::ConfigMapNotFound {
                    container: c.name.clone(),
                    name: r.name.clone(),
                });
            }
        };
        let prefix = source.prefix.as_deref().unwrap_or_default();
        for (key, value) in cm.data.iter().flatten() {
            let name = format!("{prefix}{key}");
            // Kubernetes skips keys that are no variable name (and says so in an event).
            if valid_name(&name) {
                define(name, value.clone(), &mut out);
            }
        }
    }
    for (i, var) in c.env.iter().flatten().enumerate() {
        let Some(value) = value_of(c, i, var, ctx)? else {
            continue;
        };
        let vars: HashMap<&str, &str> = out.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let value = expand(&value, &vars);
        define(var.name.clone(), value, &mut out);
    }
    Ok(out)
}

/// One `env` entry's value before expansion; `None` for an optional reference that is absent.
fn value_of(
    c: &Container,
    i: usize,
    var: &EnvVar,
    ctx: &EnvContext,
) -> Result<Option<String>, EnvError> {
    let Some(from) = &var.value_from else {
        return Ok(Some(var.value.clone().unwrap_or_default()));
    };
    let field = format!("env[{i}].valueFrom");
    if let Some(r) = &from.config_map_key_ref {
        let optional = r.optional == Some(true);
        let Some(cm) = (ctx.config_map)(&r.name) else {
            return if optional {
                Ok(None)
            } else {
                Err(EnvError::ConfigMapNotFound {
                    container: c.name.clone(),
                    name: r.name.clone(),
                })
            };
        };
        return match cm.data.as_ref().and_then(|d| d.get(&r.key)) {
            Some(v) => Ok(Some(v.clone())),
            None if optional => Ok(None),
            None => Err(EnvError::KeyNotFound {
                container: c.name.clone(),
                namespace: crate::pod::namespace_of(&ctx.pod.metadata).to_string(),
                name: r.name.clone(),
                key: r.key.clone(),
            }),
        };
    }
    if let Some(f) = &from.field_ref {
        return field_value(ctx, &f.field_path)
            .map(Some)
            .ok_or_else(|| unsupported(c, &format!("{field}.fieldRef.fieldPath"), &f.field_path));
    }
    if from.secret_key_ref.is_some() {
        return Err(unsupported(
            c,
            &format!("{field}.secretKeyRef"),
            "mkube has no Secrets",
        ));
    }
    Err(unsupported(c, &field, "no supported source"))
}

fn unsupported(c: &Container, field: &str, detail: &str) -> EnvError {
    EnvError::Unsupported {
        container: c.name.clone(),
        field: field.to_string(),
        detail: detail.to_string(),
    }
}

/// The value of a supported `fieldRef` path; `None` for any other path.
fn field_value(ctx: &EnvContext, path: &str) -> Option<String> {
    let m = &ctx.pod.metadata;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let ip = |v: Option<Ipv4Addr>| v.map(|ip| ip.to_string()).unwrap_or_default();
    Some(match path {
        "metadata.name" => text(&m.name),
        "metadata.namespace" => crate::pod::namespace_of(m).to_string(),
        "metadata.uid" => text(&m.uid),
        "spec.nodeName" => ctx.node.to_string(),
        "status.podIP" => ip(ctx.pod_ip),
        "status.hostIP" => ip(ctx.host_ip),
        other => {
            let (map, key) = map_key(other)?;
            let values = match map {
                "labels" => m.labels.as_ref(),
                _ => m.annotations.as_ref(),
            };
            values.and_then(|v| v.get(key)).cloned().unwrap_or_default()
        }
    })
}

/// `metadata.labels['k']` / `metadata.annotations['k']` → (`labels`|`annotations`, `k`).
fn map_key(path: &str) -> Option<(&str, &str)> {
    for map in ["labels", "annotations"] {
        if let Some(rest) = path.strip_prefix(&format!("metadata.{map}['"))
            && let Some(key) = rest.strip_suffix("']")
            && !key.is_empty()
        {
            return Some((
                if map == "labels" {
                    "labels"
                } else {
                    "annotations"
                },
                key,
            ));
        }
    }
    None
}

/// Kubernetes' `$(VAR)` expansion against the variables defined so far.
pub fn expand(input: &str, vars: &HashMap<&str, &str>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(open) = after.strip_prefix('(') {
            match open.find(')') {
                Some(end) => {
                    let name = &open[..end];
                    match vars.get(name) {
                        Some(v) if !name.is_empty() => out.push_str(v),
                        _ => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &open[end + 1..];
                }
                None => {
                    out.push('$');
                    out.push_str(after);
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A variable name RouterOS and a shell can carry: printable ASCII without `=`, not empty
/// (the relaxed Kubernetes rule).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'=')
}

/// Stable digest of a resolved environment, recorded with the container it was built with;
/// empty for no variables, so containers without env keep an empty record.
pub fn digest(env: &[(String, String)]) -> String {
    if env.is_empty() {
        return String::new();
    }
    let mut h = Sha256::new();
    for (k, v) in env {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// The ConfigMaps a container's environment reads, by name.
pub fn config_maps(c: &Container) -> Vec<&str> {
    let from = c
        .env_from
        .iter()
        .flatten()
        .filter_map(|s| s.config_map_ref.as_ref())
        .map(|r| r.name.as_str());
    let refs = c
        .env
        .iter()
        .flatten()
        .filter_map(|v| v.value_from.as_ref()?.config_map_key_ref.as_ref())
        .map(|r| r.name.as_str());
    from.chain(refs).collect()
}

/// Admission of a container's `env` and `envFrom`: `(field, message)` of the first problem,
/// the field relative to the container.
pub fn check(c: &Container) -> Result<(), (String, String)> {
    for (i, var) in c.env.iter().flatten().enumerate() {
        let field = format!("env[{i}]");
        if !valid_name(&var.name) {
            return Err((
                format!("{field}.name"),
                format!(
                    "Invalid value: {:?}: a valid environment variable name must consist only of printable ASCII characters other than '='",
                    var.name
                ),
            ));
        }
        let Some(from) = &var.value_from else {
            continue;
        };
        if var.value.as_deref().is_some_and(|v| !v.is_empty()) {
            return Err((
                format!("{field}.valueFrom"),
                "Invalid value: may not be specified when `value` is not empty".into(),
            ));
        }
        let sources = [
            from.config_map_key_ref.is_some(),
            from.field_ref.is_some(),
            from.secret_key_ref.is_some(),
            from.resource_field_ref.is_some(),
        ];
        match sources.iter().filter(|s| **s).count() {
            0 => {
                return Err((
                    format!("{field}.valueFrom"),
                    "Invalid value: must specify one of: `configMapKeyRef`, `fieldRef`".into(),
                ));
            }
            1 => {}
            _ => {
                return Err((
                    format!("{field}.valueFrom"),
                    "Invalid value: may not have more than one field specified at a time".into(),
                ));
            }
        }
        if from.secret_key_ref.is_some() {
            return Err((
                format!("{field}.valueFrom.secretKeyRef"),
                "Unsupported value: mkube has no Secrets; use a configMapKeyRef".into(),
            ));
        }
        if from.resource_field_ref.is_some() {
            return Err((
                format!("{field}.valueFrom.resourceFieldRef"),
                "Unsupported value: RouterOS containers have no resource limits to read".into(),
            ));
        }
        if let Some(r) = &from.config_map_key_ref
            && (r.name.is_empty() || r.key.is_empty())
        {
            return Err((
                format!("{field}.valueFrom.configMapKeyRef"),
                "Required value: name and key".into(),
            ));
        }
        if let Some(f) = &from.field_ref
            && !FIELD_PATHS.contains(&f.field_path.as_str())
            && map_key(&f.field_path).is_none()
        {
            return Err((
                format!("{field}.valueFrom.fieldRef.fieldPath"),
                format!(
                    "Unsupported value: {:?}: supported values: {}, metadata.labels['<key>'], metadata.annotations['<key>']",
                    f.field_path,
                    FIELD_PATHS.join(", ")
                ),
            ));
        }
    }
    for (i, source) in c.env_from.iter().flatten().enumerate() {
        let field = format!("envFrom[{i}]");
        if source.secret_ref.is_some() {
            return Err((
                format!("{field}.secretRef"),
                "Unsupported value: mkube has no Secrets; use a configMapRef".into(),
            ));
        }
        match &source.config_map_ref {
            None => {
                return Err((format!("{field}.configMapRef"), "Required value".into()));
            }
            Some(r) if r.name.is_empty() => {
                return Err((
                    format!("{field}.configMapRef.name"),
                    "Required value".into(),
                ));
            }
            Some(_) => {}
        }
        if let Some(prefix) = source.prefix.as_deref()
            && !prefix.is_empty()
            && !valid_name(prefix)
        {
            return Err((
                format!("{field}.prefix"),
                format!("Invalid value: {prefix:?}: must be printable ASCII other than '='"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
