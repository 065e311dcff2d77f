//! Loading order of §8.1: defaults, YAML file, legacy migration, default
//! network, validation. Command-line overrides are the caller's job (it
//! re-runs [`Config::validate`] afterwards).

use std::io::ErrorKind;
use std::path::Path;

use super::error::ConfigError;
use super::network::Network;
use super::schema::Config;

/// A loaded, validated configuration plus the warnings met on the way
/// (unknown keys, missing file, legacy block); the caller logs them.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// Loads `path`. A missing file yields the defaults and a warning; an
/// unreadable file, a YAML error or an invalid configuration is an error.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let origin = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => from_yaml_str(&text, &origin),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let mut loaded = finish(Config::default(), &origin, Vec::new())?;
            loaded
                .warnings
                .insert(0, format!("config file {origin} not found; using defaults"));
            Ok(loaded)
        }
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Parses, migrates and validates configuration text; `origin` names the
/// source in warnings and errors.
pub fn from_yaml_str(text: &str, origin: &str) -> Result<Loaded, ConfigError> {
    let mut warnings = Vec::new();
    let config = if has_content(text) {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let mut unknown = Vec::new();
        let parsed: Result<Config, _> =
            serde_ignored::deserialize(de, |path| unknown.push(key_path(&path)));
        let config = parsed.map_err(|e| ConfigError::Parse {
            origin: origin.to_string(),
            message: describe(&e),
        })?;
        warnings.extend(
            unknown
                .into_iter()
                .map(|key| format!("config {origin}: unknown key `{key}`")),
        );
        config
    } else {
        Config::default()
    };
    finish(config, origin, warnings)
}

fn finish(
    mut config: Config,
    origin: &str,
    mut warnings: Vec<String>,
) -> Result<Loaded, ConfigError> {
    if let Some(legacy) = config.network.take() {
        warnings.push(format!(
            "config {origin}: legacy `network:` block replaces `networks` with one network named `containers`"
        ));
        config.networks = vec![legacy.to_network()];
    }
    if config.networks.is_empty() {
        config.networks.push(Network::default_containers());
    }
    config.nats.replicas = config.nats.replicas.map(|n| n.max(1));
    config.validate(origin)?;
    let problems = config.read_api_keys();
    if !problems.is_empty() {
        return Err(ConfigError::Invalid {
            origin: origin.to_string(),
            problems,
        });
    }
    Ok(Loaded { config, warnings })
}

/// True when the text holds anything but blank lines, comments and
/// document markers (an empty file means "all defaults").
fn has_content(text: &str) -> bool {
    text.lines().map(str::trim).any(|l| {
        !(l.is_empty() || l.starts_with('#') || l == "---" || l == "..." || l == "~" || l == "null")
    })
}

/// The YAML error with its line and column.
fn describe(err: &serde_yaml_ng::Error) -> String {
    let msg = err.to_string();
    match err.location() {
        Some(loc) if !msg.contains(" line ") => {
            format!("{msg} at line {} column {}", loc.line(), loc.column())
        }
        _ => msg,
    }
}

/// `networks[1].dns.zonee` style rendering of an ignored key's path.
fn key_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", key_path(parent)),
        P::Map { parent, key } => match key_path(parent) {
            p if p.is_empty() => key.clone(),
            p => format!("{p}.{key}"),
        },
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            key_path(parent)
        }
    }
}

/// The microdns API keys (issue 11 item 8) are read while loading, once the file is valid.
impl Config {
    /// Reads every `networks[].dns.apiKeyFile` into `dns.api_key`; one problem per file that
    /// cannot be used. Part of loading (§8.1), after validation.
    pub fn read_api_keys(&mut self) -> Vec<super::error::Problem> {
        let mut problems = Vec::new();
        for (i, net) in self.networks.iter_mut().enumerate() {
            let path = net.dns.api_key_file.trim();
            if path.is_empty() {
                net.dns.api_key = None;
                continue;
            }
            match super::api_key::read_api_key(path) {
                Ok(key) => net.dns.api_key = Some(key),
                Err(reason) => problems.push(super::error::Problem::new(
                    format!("networks[{i}].dns.apiKeyFile"),
                    reason,
                )),
            }
        }
        problems
    }

    /// (microdns endpoint without a trailing slash, its key) of every network that has one.
    pub fn microdns_api_keys(&self) -> Vec<(String, super::api_key::ApiKey)> {
        self.networks
            .iter()
            .filter_map(|n| Some((n.dns.endpoint_base().to_string(), n.dns.api_key.clone()?)))
            .collect()
    }
}
