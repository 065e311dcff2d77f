//! The boot-order manifest (controller.md §1.3): multi-document YAML holding
//! the Pods and ConfigMaps that must exist before the event log does.
//!
//! Rules: a document whose `kind` is `ConfigMap` is a ConfigMap; any other is
//! decoded as a Pod and skipped if its `kind` is set and is not `Pod`.
//! Documents that fail the kind peek (not a mapping, broken YAML, non-string
//! kind) are skipped; a document that fails the full decode aborts the load.
//! Nameless objects are skipped; an empty namespace becomes `default`.

use std::path::Path;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::error::ConfigError;

/// The objects of a boot manifest, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    pub pods: Vec<Pod>,
    pub config_maps: Vec<ConfigMap>,
}

/// Reads and decodes the manifest at `path`. A missing file is an error
/// (DS-1 decides what that means for the caller).
pub fn load_manifest(path: &Path) -> Result<Manifest, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_manifest(&text, &path.display().to_string())
}

/// Decodes manifest text; `origin` names the source in errors.
pub fn parse_manifest(text: &str, origin: &str) -> Result<Manifest, ConfigError> {
    let mut manifest = Manifest::default();
    for (index, doc) in split_documents(text).into_iter().enumerate() {
        let number = index + 1;
        // Blank lines in front keep the parser's line numbers file-absolute.
        let padded = format!("{}{}", "\n".repeat(doc.first_line - 1), doc.text);
        let Ok(peek) = serde_yaml_ng::from_str::<KindPeek>(&padded) else {
            tracing::debug!(
                manifest = origin,
                document = number,
                "skipping document without a readable kind"
            );
            continue;
        };
        let fail = |e: serde_yaml_ng::Error| ConfigError::Manifest {
            origin: origin.to_string(),
            document: number,
            line: doc.first_line,
            message: e.to_string(),
        };
        match peek.kind.as_deref() {
            Some("ConfigMap") => {
                let mut cm: ConfigMap = serde_yaml_ng::from_str(&padded).map_err(fail)?;
                if named(&mut cm.metadata) {
                    manifest.config_maps.push(cm);
                }
            }
            Some(kind) if !kind.is_empty() && kind != "Pod" => {
                tracing::debug!(
                    manifest = origin,
                    document = number,
                    kind,
                    "skipping non-Pod document"
                );
            }
            _ => {
                let mut pod: Pod = serde_yaml_ng::from_str(&padded).map_err(fail)?;
                if named(&mut pod.metadata) {
                    manifest.pods.push(pod);
                }
            }
        }
    }
    Ok(manifest)
}

#[derive(Deserialize)]
struct KindPeek {
    #[serde(default)]
    kind: Option<String>,
}

/// False for nameless objects; fills in the `default` namespace.
fn named(meta: &mut ObjectMeta) -> bool {
    if meta.name.as_deref().unwrap_or("").is_empty() {
        return false;
    }
    if meta.namespace.as_deref().unwrap_or("").is_empty() {
        meta.namespace = Some("default".into());
    }
    true
}

struct Document {
    /// 1-based line where the document's content starts.
    first_line: usize,
    text: String,
}

/// Splits at `---` lines (column 0). Text after `---` on the same line
/// belongs to the new document. A leading part with nothing but comments and
/// blank lines before the first `---` is not a document.
fn split_documents(text: &str) -> Vec<Document> {
    let mut docs = vec![Document {
        first_line: 1,
        text: String::new(),
    }];
    for (i, line) in text.lines().enumerate() {
        let rest = line.strip_prefix("---");
        match rest {
            Some(rest) if rest.is_empty() || rest.starts_with([' ', '\t']) => {
                if docs.len() == 1 && !has_content(&docs[0].text) {
                    docs.clear();
                }
                docs.push(Document {
                    first_line: i + 1,
                    text: format!("{rest}\n"),
                });
            }
            _ => {
                let doc = docs.last_mut().expect("at least one document");
                doc.text.push_str(line);
                doc.text.push('\n');
            }
        }
    }
    docs
}

fn has_content(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .any(|l| !l.is_empty() && !l.starts_with('#'))
}
