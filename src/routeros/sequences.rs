//! The call sequences of §2.3 composed from the idempotent operations:
//! CreatePod (per container), DeletePod, Replace, Installer, Keepalive.

use super::client::RosClient;
use super::containers::{ContainerSpec, ImageSource};
use super::error::{ErrorKind, RosError};
use super::files::MoveAside;
use super::interfaces::{PortOutcome, VethOutcome};
use super::lists::{MountSpec, SyncReport};
use super::pacing::schedule;
use super::resources::Container;
use super::values::Props;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A veth to ensure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VethSpec {
    pub name: String,
    /// CIDR, e.g. `192.168.200.10/24`.
    pub address: String,
    pub gateway: String,
}

/// Everything one pod container needs on the device. Mounts and envs are
/// synced into lists named after the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodContainerPlan {
    pub container: ContainerSpec,
    pub veth: VethSpec,
    pub bridge: String,
    pub mounts: Vec<MountSpec>,
    pub envs: Vec<(String, String)>,
}

/// What CreatePod did for one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedContainer {
    pub id: String,
    pub removed_stale: bool,
    pub veth: VethOutcome,
    pub port: PortOutcome,
    pub mounts: SyncReport,
    pub envs: SyncReport,
    pub root_dir: MoveAside,
}

/// What DeletePod did for one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletedContainer {
    pub container_removed: bool,
    pub mounts_removed: usize,
    pub envs_removed: usize,
    pub veth_removed: bool,
}

impl RosClient {
    /// CreatePod for one container: stale same-name container removed →
    /// veth ensured (an orphan container holding it is removed) → bridge
    /// port ensured (a dynamic port makes the veth be recreated) → mounts and
    /// envs synced → old root-dir moved aside → add → wait for extraction →
    /// start with retries.
    pub async fn create_pod_container(
        &self,
        plan: &PodContainerPlan,
    ) -> Result<CreatedContainer, RosError> {
        let spec = &plan.container;
        let removed_stale = self.delete_container(&spec.name).await?;
        if removed_stale {
            self.wait_gone(&spec.name).await?;
        }
        let v = &plan.veth;
        let veth = match self.ensure_veth(&v.name, &v.address, &v.gateway).await {
            Err(e) if e.is(ErrorKind::InUseByContainer) => {
                self.remove_container_using(&v.name).await?;
                self.ensure_veth(&v.name, &v.address, &v.gateway).await?
            }
            other => other?,
        };
        let mut port = self.ensure_bridge_port(&plan.bridge, &v.name).await?;
        if let PortOutcome::Dynamic { .. } = port {
            self.recreate_veth(&v.name, &v.address, &v.gateway).await?;
            port = self.ensure_bridge_port(&plan.bridge, &v.name).await?;
        }
        let mut spec = spec.clone();
        let mounts = self.sync_mounts(&spec.name, &plan.mounts).await?;
        if !plan.mounts.is_empty() && spec.mountlists.is_empty() {
            spec.mountlists = vec![spec.name.clone()];
        }
        let envs = self.sync_envs(&spec.name, &plan.envs).await?;
        if !plan.envs.is_empty() && spec.envlists.is_empty() {
            spec.envlists = vec![spec.name.clone()];
        }
        let root_dir = self.move_aside(&spec.root_dir).await?;
        let id = self.add_container(&spec).await?;
        let row = self.wait_extracted(&spec.name).await?;
        let running = row.state.is_running();
        let id = if id.is_empty() { row.id } else { id };
        if !running {
            self.start_container(&id).await?;
        }
        Ok(CreatedContainer {
            id,
            removed_stale,
            veth,
            port,
            mounts,
            envs,
            root_dir,
        })
    }

    /// Removes whichever container references `veth` (orphan blocking a
    /// recreate).
    pub async fn remove_container_using(&self, veth: &str) -> Result<bool, RosError> {
        let rows = self.list_containers().await?;
        let Some(c) = rows
            .iter()
            .find(|c| c.interface.split(',').any(|i| i.trim() == veth))
        else {
            return Ok(false);
        };
        if c.state.is_active() {
            self.stop_and_wait(c).await?;
        }
        let removed = self.remove_container(&c.id, &c.name).await?;
        self.wait_gone(&c.name).await?;
        Ok(removed)
    }

    /// DeletePod for one container: stop (if running) and wait → remove
    /// with retries → remove its mount and env lists → remove the veth's
    /// static bridge port → remove the veth.
    pub async fn delete_pod_container(
        &self,
        name: &str,
        veth: Option<&str>,
    ) -> Result<DeletedContainer, RosError> {
        let container_removed = self.delete_container(name).await?;
        let mounts_removed = self.remove_mount_list(name).await?;
        let envs_removed = self.remove_env_list(name).await?;
        let veth_removed = match veth {
            Some(v) => self.remove_veth(v).await?,
            None => false,
        };
        Ok(DeletedContainer {
            container_removed,
            mounts_removed,
            envs_removed,
            veth_removed,
        })
    }

    /// Replace (update): read row → stop → remove, retried while the stop
    /// finishes → wait until the name is gone (15 s) → move the root-dir
    /// aside → add with the same properties and a new image (root-dir
    /// overlap retried) → wait for the row (60 s) → start → wait running
    /// (30 s). See [`RosClient::take_down`] for why there is no fixed settle.
    pub async fn replace_container(
        &self,
        name: &str,
        image: ImageSource,
    ) -> Result<Container, RosError> {
        let old = self
            .find_container(name)
            .await?
            .ok_or_else(|| RosError::Missing {
                what: format!("container {name}"),
            })?;
        self.take_down(&old).await?;
        let spec = ContainerSpec::from_container(&old, image);
        self.bring_up(&spec, 60.0).await?;
        self.wait_running(name).await
    }

    /// The first half of a replace: stop (if not stopped) → remove → wait
    /// until the name is gone (15 s).
    ///
    /// §2.3 wrote this as "stop → wait stopped → settle 2 s → remove (3
    /// tries)". The settle only covers the device refusing a remove with
    /// `cannot remove running` for a short while after the row shows
    /// stopped (§3.3 [obs]; the simulator's post-stop window, §5.2), and the
    /// device says so in that case, so the remove's own retry covers it:
    /// removes are tried on [`schedule::REMOVE_AFTER_STOP`] (≈ 4 s), each
    /// a read of "stopped and settled" as cheap as a poll. Only if that runs
    /// out does it fall back to the long form: stop again and wait (30 s),
    /// then remove (3 tries, each refusal re-issuing the stop, as DeletePod).
    pub async fn take_down(&self, old: &Container) -> Result<(), RosError> {
        let stopped = old.state.is_stopped();
        if !stopped {
            self.stop_container(&old.id).await?;
        }
        if self
            .remove_after_stop(&old.id, &old.name, stopped)
            .await?
            .is_none()
        {
            tracing::info!(container = %old.name, "remove still refused after the stop: waiting for stopped");
            self.stop_and_wait(old).await?;
            self.remove_container_with(&old.id, &old.name, &schedule::REMOVE[..2])
                .await?;
        }
        self.wait_gone(&old.name).await
    }

    /// The second half of a replace: move the root-dir aside (so the new
    /// image is extracted into a fresh one, §3.10) → add (root-dir overlap
    /// retried) → wait for extraction (`extract_secs`) → start unless it
    /// auto-started. Returns the row id; the caller waits for running.
    pub async fn bring_up(
        &self,
        spec: &ContainerSpec,
        extract_secs: f64,
    ) -> Result<String, RosError> {
        self.move_aside(&spec.root_dir).await?;
        let began = Instant::now();
        let id = self.add_container(spec).await?;
        let row = match self
            .wait_extracted_after_add(&spec.name, began.elapsed(), extract_secs)
            .await
        {
            Ok(row) => row,
            Err(e) => {
                // A failed import leaves no row but maybe a half-written root-dir.
                let _ = self.move_aside(&spec.root_dir).await;
                return Err(e);
            }
        };
        let id = if id.is_empty() { row.id.clone() } else { id };
        if !row.state.is_running() {
            self.start_container(&id).await?;
        }
        Ok(id)
    }

    /// Installer: veth add, bridge port add and mount adds, each ignoring
    /// "exists" errors → `GET /container` → add (remote image) unless
    /// present → wait up to 300 s for extraction → start → wait running.
    pub async fn install_container(&self, plan: &InstallPlan) -> Result<Container, RosError> {
        let v = &plan.veth;
        let body = Props::new()
            .set("name", &v.name)
            .set("address", &v.address)
            .set("gateway", &v.gateway);
        ignore(self.add("/interface/veth", &body).await, |e| {
            e.is(ErrorKind::AlreadyHaveInterface)
        })?;
        let body = Props::new()
            .set("bridge", &plan.bridge)
            .set("interface", &v.name);
        ignore(self.add("/interface/bridge/port", &body).await, |e| {
            e.detail().to_ascii_lowercase().contains("already")
        })?;
        for (list, m) in &plan.mounts {
            ignore(self.add_mount(list, m).await, |e| {
                e.is(ErrorKind::SameDstExists)
            })?;
        }
        let name = &plan.container.name;
        let existing = self
            .list_containers()
            .await?
            .into_iter()
            .find(|c| &c.name == name);
        let row = match existing {
            Some(c) if c.state.is_running() => return Ok(c),
            Some(c) if c.state.is_stopped() => c,
            _ => {
                self.add_container(&plan.container).await?;
                self.wait_extracted_for(name, 300.0).await?
            }
        };
        if !row.state.is_running() {
            self.start_container(&row.id).await?;
        }
        self.wait_running(name).await
    }
}

fn ignore<T>(
    result: Result<T, RosError>,
    exists: impl Fn(&RosError) -> bool,
) -> Result<(), RosError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if exists(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// What the installer sets up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallPlan {
    pub container: ContainerSpec,
    pub veth: VethSpec,
    pub bridge: String,
    /// (list, mount) pairs, e.g. `<name>.config`, `<name>.data`.
    pub mounts: Vec<(String, MountSpec)>,
}

/// Keepalive for start-on-boot units: one `GET /container` per tick; a
/// stopped start-on-boot container is started at most once per cooldown.
#[derive(Debug, Clone)]
pub struct Keepalive {
    /// Device-time cooldown per container (10 s).
    pub cooldown: Duration,
    last_start: HashMap<String, Instant>,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive::new(Duration::from_secs(10))
    }
}

impl Keepalive {
    pub fn new(cooldown: Duration) -> Keepalive {
        Keepalive {
            cooldown,
            last_start: HashMap::new(),
        }
    }

    /// One pass; returns the names started. `only`, when given, limits the
    /// pass to those container names.
    pub async fn tick(
        &mut self,
        client: &RosClient,
        only: Option<&[String]>,
    ) -> Result<Vec<String>, RosError> {
        let cooldown = client.pacing().dur(self.cooldown);
        let mut started = Vec::new();
        for c in client.list_containers().await? {
            if !c.start_on_boot || !c.state.is_stopped() {
                continue;
            }
            if only.is_some_and(|names| !names.contains(&c.name)) {
                continue;
            }
            if self
                .last_start
                .get(&c.name)
                .is_some_and(|t| t.elapsed() < cooldown)
            {
                continue;
            }
            self.last_start.insert(c.name.clone(), Instant::now());
            client.start_container(&c.id).await?;
            started.push(c.name);
        }
        Ok(started)
    }
}
