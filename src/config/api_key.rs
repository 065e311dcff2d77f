//! The microdns REST API key of a network (`networks[].dns.apiKeyFile`, issue 11 item 8): read
//! once when the configuration loads, sent as `X-API-Key` on every microdns call, and kept out
//! of every log line, Debug print, serialisation and generated file.

use std::fmt;
use std::sync::Arc;

use super::error::Problem;
use super::schema::Config;

/// A secret whose Debug form never shows it; it has no Serialize on purpose.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(Arc<str>);

impl ApiKey {
    /// A key from its text (tests and the loader); the same rules as a key file.
    pub fn new(text: &str) -> Result<ApiKey, String> {
        let key = text.trim_end_matches(['\n', '\r']);
        if key.is_empty() {
            return Err("the key file is empty".into());
        }
        if !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(
                "the key must be printable ASCII without spaces (it is sent as the X-API-Key header)"
                    .into(),
            );
        }
        Ok(ApiKey(Arc::from(key)))
    }

    /// The key itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Reads `path`; the reason on failure names the path, never the content.
pub fn read_api_key(path: &str) -> Result<ApiKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    ApiKey::new(&text).map_err(|why| format!("{path}: {why}"))
}

impl Config {
    /// Reads every `networks[].dns.apiKeyFile` into `dns.api_key`; one problem per file that
    /// cannot be used. Part of loading (§8.1), after validation.
    pub fn read_api_keys(&mut self) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (i, net) in self.networks.iter_mut().enumerate() {
            let path = net.dns.api_key_file.trim();
            if path.is_empty() {
                net.dns.api_key = None;
                continue;
            }
            match read_api_key(path) {
                Ok(key) => net.dns.api_key = Some(key),
                Err(reason) => problems.push(Problem::new(
                    format!("networks[{i}].dns.apiKeyFile"),
                    reason,
                )),
            }
        }
        problems
    }

    /// (microdns endpoint without a trailing slash, its key) of every network that has one.
    pub fn microdns_api_keys(&self) -> Vec<(String, ApiKey)> {
        self.networks
            .iter()
            .filter_map(|n| Some((n.dns.endpoint_base().to_string(), n.dns.api_key.clone()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_newline_is_trimmed_and_debug_hides_the_key() {
        let key = ApiKey::new("s3cret\n").unwrap();
        assert_eq!(key.expose(), "s3cret");
        assert!(!format!("{key:?}").contains("s3cret"));
        assert!(ApiKey::new("\n").is_err());
        assert!(ApiKey::new("two words").is_err());
    }
}
