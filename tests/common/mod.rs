//! Test harness: real `nats-server -js` processes on free loopback ports with temporary
//! stores, the real `mkube` binary, and helpers to build an in-process cluster.
#![allow(dead_code)]

pub mod cluster;
pub mod mkube;
pub mod nats;
pub mod samples;

#[allow(unused_imports)]
pub use nats::NatsServer;
