//! One error type for every microdns call.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum MicrodnsError {
    /// No answer: connect refused, timeout (3 s per request, R1), connection reset.
    #[error("microdns {endpoint}: {message}")]
    Transport { endpoint: String, message: String },
    /// An answer with an unexpected status; microdns error bodies are plain text (§1.2).
    #[error("microdns {endpoint}: HTTP {code}: {body}")]
    Status {
        endpoint: String,
        code: u16,
        body: String,
    },
    /// 401: the server requires an API key (`api.rest.api_key`) and got none or another one.
    #[error(
        "microdns {endpoint}: {request} answered 401 Unauthorized: {}",
        if *key_sent {
            "the API key was refused; check the key in networks[].dns.apiKeyFile"
        } else {
            "the server requires an API key and none is configured; set networks[].dns.apiKeyFile"
        }
    )]
    Unauthorized {
        endpoint: String,
        /// Method and path, e.g. `GET /api/v1/zones`.
        request: String,
        key_sent: bool,
    },
    /// A 2xx answer whose body is not what the API promises.
    #[error("microdns {endpoint}: bad response: {message}")]
    Decode { endpoint: String, message: String },
    /// The endpoint already failed in this pass; no request was sent (R7, L-5).
    #[error("microdns {endpoint}: skipped, the endpoint failed earlier in this pass")]
    Skipped { endpoint: String },
    /// Bad input from the caller (endpoint URL, client construction).
    #[error("microdns: {0}")]
    Config(String),
}

impl MicrodnsError {
    /// The endpoint did not answer at all (or was skipped for not answering earlier).
    pub fn is_transport(&self) -> bool {
        matches!(self, Self::Transport { .. } | Self::Skipped { .. })
    }

    /// The HTTP status, when the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { code, .. } => Some(*code),
            Self::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }
}
