//! Bringing one installer-owned container to running (images.md §6.2 steps 5 and 8): running →
//! left alone; extracting → waited for; stopped → started (or, for mkube-update, recreated);
//! absent or failed → created from its image, waited through extraction, started, waited
//! running. A root-dir left by an earlier failed create is moved aside first (§3.10).

use std::time::Duration;

use crate::routeros::{Container, ContainerSpec, ContainerState, RosClient, RosError};

/// What [`ensure_running`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Was running: untouched.
    AlreadyRunning,
    /// Existed stopped (or mid-extraction) and was started.
    Started,
    /// Was created and started.
    Created,
}

impl Outcome {
    pub fn describe(self, name: &str) -> String {
        match self {
            Outcome::AlreadyRunning => format!("{name} running, left alone"),
            Outcome::Started => format!("{name} started"),
            Outcome::Created => format!("{name} created and started"),
        }
    }
}

/// One container the installer owns.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub spec: ContainerSpec,
    pub extract_timeout: Duration,
    /// A stopped container is removed and created afresh instead of started (mkube-update).
    pub recreate_stopped: bool,
}

/// Brings `wanted` to running, given the row the observation holds (if any) and whether its
/// root-dir exists on the device.
pub async fn ensure_running(
    client: &RosClient,
    row: Option<&Container>,
    root_dir_exists: bool,
    wanted: &Wanted,
) -> Result<Outcome, RosError> {
    let name = wanted.spec.name.as_str();
    let Some(row) = row else {
        return create(client, root_dir_exists, wanted).await;
    };
    match &row.state {
        s if s.is_running() => Ok(Outcome::AlreadyRunning),
        ContainerState::Extracting | ContainerState::Settling | ContainerState::Starting => {
            let c = client
                .wait_extracted_for(name, wanted.extract_timeout.as_secs_f64())
                .await?;
            start(client, &c).await?;
            Ok(Outcome::Started)
        }
        s if s.is_stopped() && !wanted.recreate_stopped => {
            start(client, row).await?;
            Ok(Outcome::Started)
        }
        _ => {
            client.delete_container(name).await?;
            client.wait_gone(name).await?;
            create(client, true, wanted).await
        }
    }
}

async fn create(
    client: &RosClient,
    root_dir_exists: bool,
    wanted: &Wanted,
) -> Result<Outcome, RosError> {
    if root_dir_exists {
        client.move_aside(&wanted.spec.root_dir).await?;
    }
    client.add_container(&wanted.spec).await?;
    let c = client
        .wait_extracted_for(&wanted.spec.name, wanted.extract_timeout.as_secs_f64())
        .await?;
    start(client, &c).await?;
    Ok(Outcome::Created)
}

/// Starts a row that is not running and waits until it runs.
async fn start(client: &RosClient, c: &Container) -> Result<(), RosError> {
    if !c.state.is_running() {
        client.start_container(&c.id).await?;
    }
    client.wait_running(&c.name).await.map(|_| ())
}

/// Stops a running container and starts it again (new certificates, §6.4).
pub async fn restart(client: &RosClient, c: &Container) -> Result<(), RosError> {
    client.stop_and_wait(c).await?;
    let stopped = client
        .find_container(&c.name)
        .await?
        .ok_or_else(|| RosError::Missing {
            what: format!("container {}", c.name),
        })?;
    start(client, &stopped).await
}
