//! TLS everywhere uses rustls with the ring provider (no aws-lc, no OpenSSL). Clients built
//! with a preconfigured rustls config do not need this; anything that builds a default
//! reqwest client does, once per process.

pub fn ensure_ring_provider() {
    // Fails only when a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
