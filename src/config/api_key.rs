//! The microdns REST API key of a network (`networks[].dns.apiKeyFile`, issue 11 item 8): read
//! once when the configuration loads, sent as `X-API-Key` on every microdns call, and kept out
//! of every log line, Debug print, serialisation and generated file.

use std::fmt;
use std::sync::Arc;

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
