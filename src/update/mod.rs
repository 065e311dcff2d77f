//! mkube-update (images.md §5) and the replacement behind mkube's update API (§4.6).
//!
//! - [`config`]: the YAML configuration (§5.1).
//! - [`digests`]: newest digest of a repository by tag preference (§5.2 step 1).
//! - [`record`]: what survives a restart: deployed digests, failure counts, a pending
//!   self-update.
//! - [`mark`]: the swap-in-progress mark and the settings a swap keeps.
//! - [`replace`]: replaceContainer with health check, start retries, rollback, and the
//!   recovery of a swap a crash interrupted (§5.3).
//! - [`stage`]: the pre-staged tarball of the registry's own swap (§5.5).
//! - [`request`]: the update-container request body (§4.6).
//! - [`updater`], [`poll`], [`bootstrap`], [`self_update`]: the process's state and its cycle
//!   (§5.2, §5.4).
//! - [`events`]: the registry's push stream; [`serve`]: `/healthz` and the update endpoint;
//!   [`run`]: the process.

pub mod bootstrap;
pub mod config;
pub mod digests;
pub mod events;
pub mod mark;
pub mod poll;
pub mod record;
pub mod replace;
pub mod request;
pub mod run;
pub mod self_update;
pub mod serve;
pub mod stage;
pub mod updater;

pub use config::UpdateConfig;
pub use updater::Updater;
