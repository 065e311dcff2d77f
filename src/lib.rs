//! mkube: Kubernetes-style pods on MikroTik RouterOS 7, as an event-sourced actor system.
//! See DESIGN.md (shared) for the shape; this file only names the rooms.

pub mod actors;
pub mod api;
pub mod config;
pub mod events;
pub mod installer;
pub mod kube_time;
pub mod metrics;
pub mod microdns;
pub mod oci;
pub mod pod;
pub mod process;
pub mod registry;
pub mod resolve;
pub mod routeros;
pub mod sim;
pub mod soak;
pub mod tls;
pub mod update;
