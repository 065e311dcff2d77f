//! `actors/` decides. One actix actor per area, each with its state (`state.rs`, a pure
//! `apply`), its typed messages and its effects; `cluster.rs` folds the log into all of them,
//! `wiring.rs` boots them in order.

pub mod checks;
pub mod cluster;
pub mod configmaps;
pub mod consistency;
pub mod device;
pub mod dns;
pub mod images;
pub mod ipam;
pub mod journal;
pub mod lifecycle;
pub mod nodes;
pub mod observations;
pub mod pods;
pub mod published;
pub mod reconcile;
pub mod replay;
pub mod rollout;
pub mod snapshotter;
pub mod updater;
pub mod veths;
pub mod wiring;

pub use cluster::{ClusterState, Fold};
