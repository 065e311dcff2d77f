//! rustls client configuration for registry pulls (`check-certificate`, §5.1 item 8).

use super::{ImportError, PullOptions};
use rustls::ClientConfig;

/// `check_certificate` → only `extra_roots` are trusted; otherwise any certificate is
/// accepted (handshake signatures are still checked).
pub(crate) fn client_config(opts: &PullOptions) -> Result<ClientConfig, ImportError> {
    let roots: Vec<&[u8]> = opts.extra_roots.iter().map(Vec::as_slice).collect();
    crate::tls::client_config(!opts.check_certificate, &roots).map_err(ImportError::Certificate)
}
