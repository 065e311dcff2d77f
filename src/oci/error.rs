//! Why an OCI client operation failed.

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad image: {0}")]
    Malformed(String),
    #[error("registry error: {0}")]
    Registry(String),
    #[error("certificate error: {0}")]
    Certificate(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
}
