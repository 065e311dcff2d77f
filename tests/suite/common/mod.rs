//! Test harness: real `nats-server -js` processes on free loopback ports with temporary
//! stores, the real `mkube` binary, and helpers to build an in-process cluster.
#![allow(dead_code)]

pub mod api;
pub mod cluster;
pub mod kubectl;
pub mod mkube;
pub mod nats;
pub mod nats_cluster;
pub mod nats_leaf;
pub mod nodes;
pub mod samples;

#[allow(unused_imports)]
pub use nats::NatsServer;

/// An HTTP client for tests (rustls with ring, see `mkube::tls`).
pub fn http() -> reqwest::Client {
    ::mkube::tls::ensure_ring_provider();
    reqwest::Client::new()
}

/// The value of one series in Prometheus text (`name{labels}` as rendered).
pub fn series(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
}
