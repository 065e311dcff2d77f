//! `/container`: typed add bodies, start/stop/remove with the retry
//! schedules of §2.3, and state waits resolved by reading the device.

use super::client::RosClient;
use super::error::{ErrorKind, RosError};
use super::names::PropertyNames;
use super::pacing::{Polls, schedule};
use super::resources::{Container, ContainerState, FromRow, LogEntry};
use super::values::{Props, join_list};
use std::time::{Duration, Instant};

/// Where the image comes from: exactly one of `file` and `remote-image`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// A docker-save tarball on the device (`raid1/cache/x.tar`).
    File(String),
    /// A registry reference (`host:port/repo:tag`).
    Remote {
        image: String,
        check_certificate: bool,
    },
}

/// The properties mkube writes on `/container/add` (§3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: ImageSource,
    pub interface: String,
    pub root_dir: String,
    pub mountlists: Vec<String>,
    pub envlists: Vec<String>,
    pub cmd: String,
    pub entrypoint: String,
    pub workdir: String,
    pub user: String,
    pub hostname: String,
    pub dns: String,
    pub logging: bool,
    pub start_on_boot: bool,
}

impl ContainerSpec {
    /// A spec with the given name, image, veth and root-dir; logging on.
    pub fn new(
        name: impl Into<String>,
        image: ImageSource,
        interface: impl Into<String>,
        root_dir: impl Into<String>,
    ) -> ContainerSpec {
        ContainerSpec {
            name: name.into(),
            image,
            interface: interface.into(),
            root_dir: root_dir.into(),
            mountlists: Vec::new(),
            envlists: Vec::new(),
            cmd: String::new(),
            entrypoint: String::new(),
            workdir: String::new(),
            user: String::new(),
            hostname: String::new(),
            dns: String::new(),
            logging: true,
            start_on_boot: false,
        }
    }

    /// The spec of an existing row with a new image (replace).
    pub fn from_container(c: &Container, image: ImageSource) -> ContainerSpec {
        ContainerSpec {
            name: c.name.clone(),
            image,
            interface: c.interface.clone(),
            root_dir: c.root_dir.clone(),
            mountlists: c.mountlists.clone(),
            envlists: c.envlists.clone(),
            cmd: c.cmd.clone(),
            entrypoint: c.entrypoint.clone(),
            workdir: c.workdir.clone(),
            user: c.user.clone(),
            hostname: c.hostname.clone(),
            dns: c.dns.clone(),
            logging: c.logging,
            start_on_boot: c.start_on_boot,
        }
    }

    /// The `/container/add` body with the version's property names;
    /// optional properties only when non-empty.
    pub fn body(&self, names: &PropertyNames) -> Props {
        let mut p = Props::new().set("name", &self.name);
        match &self.image {
            ImageSource::File(f) => p = p.set("file", f),
            ImageSource::Remote {
                image,
                check_certificate,
            } => {
                p = p.set("remote-image", image);
                if names.check_certificate {
                    p = p.flag("check-certificate", *check_certificate);
                }
            }
        }
        p.set("interface", &self.interface)
            .set("root-dir", &self.root_dir)
            .set_nonempty(names.container_mounts, &join_list(&self.mountlists))
            .set_nonempty(names.container_envs, &join_list(&self.envlists))
            .set_nonempty("cmd", &self.cmd)
            .set_nonempty("entrypoint", &self.entrypoint)
            .set_nonempty("workdir", &self.workdir)
            .set_nonempty("user", &self.user)
            .set_nonempty("hostname", &self.hostname)
            .set_nonempty("dns", &self.dns)
            .flag("logging", self.logging)
            .flag("start-on-boot", self.start_on_boot)
    }
}

impl RosClient {
    /// `GET /container`: every row.
    pub async fn list_containers(&self) -> Result<Vec<Container>, RosError> {
        self.get_rows("/container", &[]).await
    }

    /// `GET /container?name=`: the row of that name, if any.
    pub async fn find_container(&self, name: &str) -> Result<Option<Container>, RosError> {
        let rows: Vec<Container> = self.get_rows("/container", &[("name", name)]).await?;
        Ok(rows.into_iter().find(|c| c.name == name))
    }

    /// `POST /container/add`, with the long add timeout. On `root-dir
    /// overlap` it retries up to 5 times every 3 s. On a timeout, a transport
    /// fault or `Session closed` it never retries blindly: it reads state by
    /// name, adopts the row if it exists, and only re-adds once the row is
    /// confirmed absent. Returns the row id.
    pub async fn add_container(&self, spec: &ContainerSpec) -> Result<String, RosError> {
        let body = spec.body(self.names());
        let timeout = self.options().add_timeout;
        let mut overlap_retries = schedule::ADD_OVERLAP.iter();
        let mut indeterminate_retries = 2;
        let mut readded = false;
        loop {
            match self
                .post_with_timeout("/container/add", &body, timeout)
                .await
            {
                Ok(v) => {
                    if let Some(id) = super::values::ret_id(&v) {
                        return Ok(id);
                    }
                    return match self.find_container(&spec.name).await? {
                        Some(c) => Ok(c.id),
                        None => Ok(String::new()),
                    };
                }
                Err(e) if e.is(ErrorKind::RootDirOverlap) => match overlap_retries.next() {
                    Some(d) => {
                        tracing::debug!(name = %spec.name, "root-dir overlap, retrying add");
                        self.pacing().sleep_secs(*d).await;
                    }
                    None => return Err(e),
                },
                // A re-add after an unknown outcome may find the first add's
                // row after all: adopt it.
                Err(e) if e.is(ErrorKind::AlreadyExists) && readded => {
                    match self.find_container(&spec.name).await? {
                        Some(c) => return Ok(c.id),
                        None => return Err(e),
                    }
                }
                Err(e) if e.is_indeterminate() => {
                    tracing::debug!(name = %spec.name, error = %e, "add outcome unknown, reading state");
                    if let Some(c) = self.await_row(&spec.name, 3).await? {
                        return Ok(c.id);
                    }
                    if indeterminate_retries == 0 {
                        return Err(e);
                    }
                    indeterminate_retries -= 1;
                    readded = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Polls for a row by name, `reads` times, one poll interval apart.
    async fn await_row(&self, name: &str, reads: usize) -> Result<Option<Container>, RosError> {
        for i in 0..reads {
            if i > 0 {
                self.pacing().sleep_secs(schedule::POLL).await;
            }
            match self.find_container(name).await {
                Ok(Some(c)) => return Ok(Some(c)),
                Ok(None) => {}
                Err(e) if e.is_indeterminate() && i + 1 < reads => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Polls `GET /container?name=` at once and then every poll interval
    /// until `done` holds for the observation (`None` = no row) or
    /// `timeout_secs` of device time pass. Transport faults during the poll
    /// are tolerated.
    pub async fn poll_container<F>(
        &self,
        name: &str,
        timeout_secs: f64,
        what: &str,
        done: F,
    ) -> Result<Option<Container>, RosError>
    where
        F: FnMut(Option<&Container>) -> bool,
    {
        self.poll_container_with(name, schedule::POLL_NOW, timeout_secs, what, done)
            .await
    }

    /// [`RosClient::poll_container`] reading on another schedule (e.g. a
    /// first look shortly after a command, then backing off to 1 s).
    pub async fn poll_container_with<F>(
        &self,
        name: &str,
        polls: Polls,
        timeout_secs: f64,
        what: &str,
        mut done: F,
    ) -> Result<Option<Container>, RosError>
    where
        F: FnMut(Option<&Container>) -> bool,
    {
        let pacing = self.pacing();
        let started = Instant::now();
        let deadline = pacing.secs(timeout_secs);
        let mut reads = 0;
        loop {
            pacing.sleep_secs(polls.delay(reads)).await;
            reads += 1;
            match self.find_container(name).await {
                Ok(row) => {
                    if done(row.as_ref()) {
                        return Ok(row);
                    }
                }
                Err(e) if e.is_indeterminate() => {}
                Err(e) => return Err(e),
            }
            if started.elapsed() >= deadline {
                return Err(RosError::WaitTimeout {
                    what: format!("{what} of container {name}"),
                    waited: Duration::from_secs_f64(timeout_secs),
                });
            }
        }
    }

    /// Waits for an import to end (120 s): until `stopped` (or `running`,
    /// for an auto-started start-on-boot row). Rows with no flag are still
    /// settling. A row that vanishes means the import failed: the reason is
    /// read from `/log`.
    pub async fn wait_extracted(&self, name: &str) -> Result<Container, RosError> {
        self.wait_extracted_for(name, schedule::EXTRACT_TIMEOUT)
            .await
    }

    /// [`RosClient::wait_extracted`] with another limit (installer: 300 s).
    pub async fn wait_extracted_for(
        &self,
        name: &str,
        timeout_secs: f64,
    ) -> Result<Container, RosError> {
        self.wait_extracted_polling(name, schedule::POLL_NOW, timeout_secs)
            .await
    }

    /// [`RosClient::wait_extracted_for`] after an `add` that took `add_took`:
    /// an add that held the request through the import (§1.9) is read at
    /// once; one that returned early is looked at after half a second and
    /// then more often than the steady rate for the first seconds.
    pub async fn wait_extracted_after_add(
        &self,
        name: &str,
        add_took: Duration,
        timeout_secs: f64,
    ) -> Result<Container, RosError> {
        let polls = if add_took >= self.pacing().secs(schedule::ADD_BLOCKED) {
            schedule::POLL_NOW
        } else {
            schedule::AFTER_ADD
        };
        self.wait_extracted_polling(name, polls, timeout_secs).await
    }

    async fn wait_extracted_polling(
        &self,
        name: &str,
        polls: Polls,
        timeout_secs: f64,
    ) -> Result<Container, RosError> {
        let started = Instant::now();
        let grace = self.pacing().secs(schedule::ROW_GRACE);
        let mut seen = false;
        let mut failed = false;
        let row = self
            .poll_container_with(name, polls, timeout_secs, "extraction", |row| match row {
                Some(c) => {
                    seen = true;
                    if c.state == ContainerState::Failed {
                        failed = true;
                        return true;
                    }
                    c.state.is_stopped() || c.state.is_running()
                }
                None => {
                    failed = seen || started.elapsed() >= grace;
                    failed
                }
            })
            .await?;
        match row {
            Some(c) if !failed => Ok(c),
            _ => Err(RosError::ImportFailed {
                name: name.to_string(),
                reason: self.import_failure_reason(name).await,
            }),
        }
    }

    /// The newest `/log` line about `name`, errors first; a placeholder when
    /// the log says nothing.
    pub async fn import_failure_reason(&self, name: &str) -> String {
        let lines: Vec<LogEntry> = match self.get_rows("/log", &[]).await {
            Ok(l) => l,
            Err(e) => return format!("row vanished; /log unreadable: {e}"),
        };
        let about: Vec<&LogEntry> = lines.iter().filter(|l| l.message.contains(name)).collect();
        about
            .iter()
            .rev()
            .find(|l| l.has_topic("error"))
            .or(about.last())
            .map(|l| l.message.clone())
            .unwrap_or_else(|| "container row vanished during import (no log line)".into())
    }

    /// `POST /container/start {".id"}`, retried after 2,2,3,3,5,5 s on
    /// transport faults, `Session closed` and `not ready`.
    pub async fn start_container(&self, id: &str) -> Result<(), RosError> {
        let body = Props::new().set(".id", id);
        let mut delays = schedule::START.iter();
        loop {
            match self.post("/container/start", &body).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_retryable() || e.is(ErrorKind::NotReady) => match delays.next() {
                    Some(d) => {
                        tracing::debug!(id, error = %e, "start failed, retrying");
                        self.pacing().sleep_secs(*d).await;
                    }
                    None => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
    }

    /// `POST /container/stop {".id"}`; a gone container counts as stopped.
    /// Retried twice on transport faults (stop is idempotent).
    pub async fn stop_container(&self, id: &str) -> Result<(), RosError> {
        let body = Props::new().set(".id", id);
        let mut retries = 2;
        loop {
            match self.post("/container/stop", &body).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_gone() => return Ok(()),
                Err(e) if e.is_retryable() && retries > 0 => {
                    retries -= 1;
                    self.pacing().sleep_secs(schedule::POLL).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Stops and polls until the row is stopped or gone (30 s); the first
    /// look is half a second after the stop.
    pub async fn stop_and_wait(&self, c: &Container) -> Result<(), RosError> {
        self.stop_container(&c.id).await?;
        self.poll_container_with(
            &c.name,
            schedule::AFTER_STOP,
            schedule::STOP_TIMEOUT,
            "stop",
            |row| row.is_none_or(|c| !c.state.is_active()),
        )
        .await
        .map(|_| ())
    }

    /// Polls until the row is running (30 s), first looking 0.3 s in (a
    /// start returns at once). A vanished row is `Missing`;
    /// a row seen starting and then stopped again is `StartFailed` with the
    /// device's comment. So is a row seen stopped at two looks in a row
    /// (≥ 0.7 s apart): a start that fails fast can take the row N → S
    /// before the first look, and a start the device accepted does not
    /// leave the row in S for that long (§3.3 "start returns at once").
    pub async fn wait_running(&self, name: &str) -> Result<Container, RosError> {
        let mut seen_starting = false;
        let mut stopped_looks = 0;
        let row = self
            .poll_container_with(
                name,
                schedule::AFTER_START,
                schedule::RUNNING_TIMEOUT,
                "start",
                |row| match row {
                    None => true,
                    Some(c) if c.state == ContainerState::Starting => {
                        seen_starting = true;
                        false
                    }
                    Some(c) if c.state.is_stopped() => {
                        stopped_looks += 1;
                        seen_starting || stopped_looks >= 2
                    }
                    Some(c) => {
                        stopped_looks = 0;
                        c.state.is_running()
                    }
                },
            )
            .await?;
        match row {
            None => Err(RosError::Missing {
                what: format!("container {name}"),
            }),
            Some(c) if !c.state.is_running() => Err(RosError::StartFailed {
                name: name.to_string(),
                comment: c.comment,
            }),
            Some(c) => Ok(c),
        }
    }

    /// `GET /container/<id>`: one row; `None` on 404.
    pub async fn get_container(&self, id: &str) -> Result<Option<Container>, RosError> {
        match self.get_raw(&format!("/container/{id}"), &[]).await {
            Ok(v) => Ok(super::values::singleton_of(v).map(|r| Container::from_row(&r))),
            Err(e) if e.is(ErrorKind::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /container/remove {".id"}` with retries after
    /// 1,1,2,2,3,3,4,5 s, re-issuing stop when the detail mentions running.
    /// Returns `false` when the container was already gone.
    pub async fn remove_container(&self, id: &str, name: &str) -> Result<bool, RosError> {
        self.remove_container_with(id, name, &schedule::REMOVE)
            .await
    }

    /// [`RosClient::remove_container`] with another retry schedule.
    pub async fn remove_container_with(
        &self,
        id: &str,
        name: &str,
        delays: &[f64],
    ) -> Result<bool, RosError> {
        let mut delays = delays.iter();
        loop {
            let (err, running) = match self.try_remove(id, name).await? {
                Removal::Done(removed) => return Ok(removed),
                Removal::Refused { err, running } => (err, running),
            };
            let Some(d) = delays.next() else {
                return Err(err);
            };
            if running {
                tracing::debug!(id, "remove refused while running, re-issuing stop");
                self.stop_container(id).await?;
            }
            self.pacing().sleep_secs(*d).await;
        }
    }

    /// One `POST /container/remove {".id"}`. A refusal that mentions
    /// running, or a transport fault after which the row is still there, is
    /// `Refused`; any other error is returned.
    async fn try_remove(&self, id: &str, name: &str) -> Result<Removal, RosError> {
        let body = Props::new().set(".id", id);
        let err = match self.post("/container/remove", &body).await {
            Ok(_) => return Ok(Removal::Done(true)),
            Err(e) if e.is_gone() => return Ok(Removal::Done(false)),
            Err(e) => e,
        };
        let running = err.is(ErrorKind::CannotRemoveRunning)
            || err.detail().to_ascii_lowercase().contains("running");
        if !running && !err.is_indeterminate() {
            return Err(err);
        }
        if err.is_indeterminate() {
            // Unknown outcome: read state before anything else.
            match self.find_container(name).await {
                Ok(None) => return Ok(Removal::Done(true)),
                Ok(Some(c)) if c.id != id || c.state == ContainerState::Deleting => {
                    return Ok(Removal::Done(true));
                }
                _ => {}
            }
        }
        Ok(Removal::Refused { err, running })
    }

    /// Removal right after a stop (replace): `/container/remove` is tried on
    /// [`schedule::REMOVE_AFTER_STOP`] (the first try at once when `stopped`
    /// says no stop was issued), and `cannot remove running` only means the
    /// stop has not finished yet — the device refuses a remove while the row
    /// is running or stopping, and for a short while after it shows stopped
    /// (routeros-rest.md §3.3). So each try doubles as the read of "stopped"
    /// and no fixed settle is slept. `Ok(None)` when still refused at the end
    /// of the schedule; else whether a row was removed.
    pub async fn remove_after_stop(
        &self,
        id: &str,
        name: &str,
        stopped: bool,
    ) -> Result<Option<bool>, RosError> {
        for (i, d) in schedule::REMOVE_AFTER_STOP.iter().enumerate() {
            if i > 0 || !stopped {
                self.pacing().sleep_secs(*d).await;
            }
            match self.try_remove(id, name).await? {
                Removal::Done(removed) => return Ok(Some(removed)),
                Removal::Refused { err, .. } => {
                    tracing::debug!(id, error = %err, "remove refused after stop, trying again");
                }
            }
        }
        Ok(None)
    }

    /// Polls until no row has the name (15 s); the first look is half a
    /// second in (removal is asynchronous, §3.3).
    pub async fn wait_gone(&self, name: &str) -> Result<(), RosError> {
        self.poll_container_with(
            name,
            schedule::AFTER_REMOVE,
            schedule::GONE_TIMEOUT,
            "removal",
            |row| row.is_none(),
        )
        .await
        .map(|_| ())
    }

    /// Stops (if active), waits, and removes the named container. `false`
    /// when there was nothing to remove.
    pub async fn delete_container(&self, name: &str) -> Result<bool, RosError> {
        let Some(c) = self.find_container(name).await? else {
            return Ok(false);
        };
        if c.state.is_active() {
            self.stop_and_wait(&c).await?;
        }
        self.remove_container(&c.id, name).await
    }
}

/// The outcome of one remove call.
enum Removal {
    /// Accepted (`true`) or the row was already gone (`false`).
    Done(bool),
    /// Not removed; `running` when the device said the container runs.
    Refused { err: RosError, running: bool },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routeros::names::RosVersion;
    use serde_json::json;

    #[test]
    fn add_body_722() {
        let names = PropertyNames::for_version(RosVersion::new(7, 22, 2));
        let mut spec = ContainerSpec::new(
            "default_nginx_web",
            ImageSource::File("raid1/cache/nginx.tar".into()),
            "veth_default_nginx_0",
            "/raid1/images/default_nginx_web",
        );
        spec.mountlists = vec!["default_nginx_web".into()];
        spec.envlists = vec!["default_nginx_web".into()];
        spec.hostname = "nginx".into();
        spec.dns = "192.168.200.199".into();
        spec.user = "0:0".into();
        spec.start_on_boot = true;
        assert_eq!(
            spec.body(&names).as_value(),
            json!({"name":"default_nginx_web","file":"raid1/cache/nginx.tar","interface":"veth_default_nginx_0",
                "root-dir":"/raid1/images/default_nginx_web","mountlists":"default_nginx_web",
                "envlists":"default_nginx_web","hostname":"nginx","dns":"192.168.200.199","user":"0:0",
                "logging":"yes","start-on-boot":"yes"})
        );
    }

    #[test]
    fn add_body_remote_and_old_names() {
        let names = PropertyNames::for_version(RosVersion::new(7, 19, 0));
        let mut spec = ContainerSpec::new(
            "r",
            ImageSource::Remote {
                image: "127.0.0.1:5000/x:edge".into(),
                check_certificate: false,
            },
            "veth-r",
            "raid1/images/r",
        );
        spec.mountlists = vec!["a".into(), "b".into()];
        let b = spec.body(&names);
        assert_eq!(b.get("mounts"), Some("a,b"));
        assert_eq!(b.get("check-certificate"), None);
        assert_eq!(b.get("remote-image"), Some("127.0.0.1:5000/x:edge"));
        let names = PropertyNames::for_version(RosVersion::new(7, 22, 0));
        assert_eq!(spec.body(&names).get("check-certificate"), Some("no"));
    }
}
