//! Errors of configuration and manifest loading.

use std::fmt;
use std::path::PathBuf;

/// One validation failure: the YAML field path (camelCase, with `[i]`
/// indices, e.g. `networks[1].ipamStart`) and why it is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub reason: String,
}

impl Problem {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Problem {
        Problem {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Why a configuration or manifest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read (or, for a manifest, is missing).
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The YAML did not parse or did not fit the schema; `message` carries the
    /// line and column.
    #[error("config {origin}: {message}")]
    Parse { origin: String, message: String },
    /// The configuration parsed but is inconsistent; every problem found.
    #[error("{}", list_problems(origin, problems))]
    Invalid {
        origin: String,
        problems: Vec<Problem>,
    },
    /// A boot manifest document failed the full decode (§1.3); `document`
    /// counts from 1, `line` is where that document starts.
    #[error("manifest {origin}: document {document} (line {line}): {message}")]
    Manifest {
        origin: String,
        document: usize,
        line: usize,
        message: String,
    },
}

impl ConfigError {
    /// The validation problems, empty for other kinds of error.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

fn list_problems(origin: &str, problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("config {origin}: {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
