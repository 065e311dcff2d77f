//! Query parameters of list and watch requests: `watch`, `resourceVersion`, `timeoutSeconds`,
//! `allowWatchBookmarks`, `labelSelector` (equality: `k=v`, `k==v`, `k!=v`, `k`, `!k`) and
//! `fieldSelector`.

use crate::api::machinery::status::ApiError;
use crate::api::machinery::version::ResourceVersion;
use actix_web::HttpRequest;
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone)]
pub struct ListParams {
    pub watch: bool,
    pub resource_version: Option<ResourceVersion>,
    pub timeout_seconds: Option<u64>,
    pub bookmarks: bool,
    pub labels: Vec<Requirement>,
    pub fields: Vec<(String, String, bool)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
}

impl ListParams {
    pub fn from_request(req: &HttpRequest) -> Result<ListParams, ApiError> {
        let query: Vec<(String, String)> =
            actix_web::web::Query::<Vec<(String, String)>>::from_query(req.query_string())
                .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?
                .into_inner();
        let mut p = ListParams::default();
        for (k, v) in query {
            match k.as_str() {
                "watch" => p.watch = v == "true" || v == "1",
                "resourceVersion" if !v.is_empty() => {
                    p.resource_version = Some(v.parse().map_err(ApiError::bad_request)?)
                }
                "allowWatchBookmarks" => p.bookmarks = v == "true" || v == "1",
                "timeoutSeconds" => {
                    p.timeout_seconds = Some(v.parse().map_err(|_| {
                        ApiError::bad_request(format!("timeoutSeconds: Invalid value: {v:?}"))
                    })?)
                }
                "labelSelector" => p.labels = parse_labels(&v)?,
                "fieldSelector" => p.fields = parse_fields(&v)?,
                _ => {}
            }
        }
        Ok(p)
    }

    pub fn labels_match(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k));
        self.labels.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v),
            Requirement::NotEquals(k, v) => get(k) != Some(v),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::Absent(k) => get(k).is_none(),
        })
    }

    /// Field selectors against the values `field(name)` reports; an unsupported field is a 400.
    pub fn fields_match(&self, field: impl Fn(&str) -> Option<String>) -> Result<bool, ApiError> {
        for (name, want, equal) in &self.fields {
            let have = field(name).ok_or_else(|| {
                ApiError::bad_request(format!("field label not supported: {name:?}"))
            })?;
            if (&have == want) != *equal {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn parse_labels(s: &str) -> Result<Vec<Requirement>, ApiError> {
    let bad = || ApiError::bad_request(format!("labelSelector: Invalid value: {s:?}"));
    let mut out = Vec::new();
    for term in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let req = if let Some((k, v)) = term.split_once("!=") {
            Requirement::NotEquals(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            Requirement::Equals(k.trim().into(), v.trim().into())
        } else if let Some(k) = term.strip_prefix('!') {
            Requirement::Absent(k.trim().into())
        } else if term.contains(' ') || term.contains('(') {
            return Err(bad());
        } else {
            Requirement::Exists(term.into())
        };
        out.push(req);
    }
    Ok(out)
}

fn parse_fields(s: &str) -> Result<Vec<(String, String, bool)>, ApiError> {
    let mut out = Vec::new();
    for term in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (k, v, eq) = if let Some((k, v)) = term.split_once("!=") {
            (k, v, false)
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            (k, v, true)
        } else {
            return Err(ApiError::bad_request(format!(
                "fieldSelector: Invalid value: {term:?}: expected <field>=<value>"
            )));
        };
        out.push((k.trim().to_string(), v.trim().to_string(), eq));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selectors_match_by_equality() {
        let reqs = parse_labels("app=web,tier!=db,env,!legacy").unwrap();
        let p = ListParams {
            labels: reqs,
            ..Default::default()
        };
        let mut l = BTreeMap::new();
        l.insert("app".to_string(), "web".to_string());
        l.insert("env".to_string(), "x".to_string());
        assert!(p.labels_match(Some(&l)));
        l.insert("legacy".to_string(), "1".to_string());
        assert!(!p.labels_match(Some(&l)));
        assert!(!p.labels_match(None));
    }

    #[test]
    fn field_selectors_name_unsupported_fields() {
        let p = ListParams {
            fields: parse_fields("involvedObject.name=web,type!=Warning").unwrap(),
            ..Default::default()
        };
        let ok = p.fields_match(|f| match f {
            "involvedObject.name" => Some("web".into()),
            "type" => Some("Normal".into()),
            _ => None,
        });
        assert!(ok.unwrap());
        assert!(p.fields_match(|_| None).is_err());
        assert!(parse_fields("nonsense").is_err());
    }
}
