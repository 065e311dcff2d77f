//! rustls configuration for the device's REST API, with the `insecureVerify` option.

use super::error::RosError;

/// With `insecure`, any certificate is accepted (handshake signatures are still checked);
/// otherwise the server must chain to a certificate of `ca_pem`.
pub fn client_config(
    insecure: bool,
    ca_pem: Option<&str>,
) -> Result<rustls::ClientConfig, RosError> {
    let cas: Vec<&[u8]> = ca_pem.map(str::as_bytes).into_iter().collect();
    crate::tls::client_config(insecure, &cas).map_err(RosError::Config)
}
