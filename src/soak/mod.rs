//! The chaos soak (issue 17): a whole site on loopback, a steady workload through the API, a
//! seeded schedule of faults, then a bounded wait for convergence and the verdict.
//!
//! - `processes`: start, kill -9 and restart the real binaries;
//! - `config`: the files the site starts from;
//! - `workload` + `ledger`: the writes and what each acknowledged one promised;
//! - `image`: new digests of the tiny image, pushed with skopeo;
//! - `faults`: the seeded schedule, injection and clearing;
//! - `observe` + `invariants`: the end read from outside and judged; `replay`: the log's fold;
//! - `measure`: RSS, descriptors, API latency and passes to converge;
//! - `report`: the summary line.

pub mod config;
pub mod faults;
pub mod http;
pub mod image;
pub mod invariants;
pub mod ledger;
pub mod measure;
pub mod observe;
pub mod processes;
pub mod replay;
pub mod report;
pub mod run;
pub mod workload;

pub use report::Outcome;
pub use run::{Options, run};
