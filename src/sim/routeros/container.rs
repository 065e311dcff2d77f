//! `/container` rows and their state machine (spec §3.3–§3.5), driven by `tick`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::device::{Device, VETH};
use super::errors::ApiError;
use super::import::PullOptions;
use super::rows::{Row, fmt_id, is_true, split_list};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CState {
    Extracting,
    Stopped,
    Starting,
    Running,
    Stopping,
    Deleting,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ImportState {
    #[default]
    Idle,
    Pending,
    Done,
    Failed(String),
}

/// Timers and import progress; not persisted.
#[derive(Debug, Clone, Default)]
pub struct CRuntime {
    pub deadline: Option<Instant>,
    pub settle_until: Option<Instant>,
    pub import: ImportState,
    pub stopped_at: Option<Instant>,
    pub drop_start_until: Option<Instant>,
    pub start_pending: bool,
    /// Process mode: the start delay ran out, the supervisor starts the process.
    pub launch: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Container {
    pub id: u64,
    /// Stored properties as given (root-dir without leading `/`), plus `comment`.
    pub props: Row,
    pub state: CState,
    #[serde(skip)]
    pub rt: CRuntime,
}

/// Work the caller must run outside the device lock after an `add`.
#[derive(Debug, Clone)]
pub enum ImportJob {
    Archive {
        id: u64,
        archive: PathBuf,
        root: PathBuf,
    },
    Pull {
        id: u64,
        reference: String,
        root: PathBuf,
        opts: PullOptions,
    },
}

impl Container {
    pub fn name(&self) -> &str {
        self.props.get("name").map(|s| s.as_str()).unwrap_or("")
    }
    pub fn root_dir(&self) -> &str {
        self.props.get("root-dir").map(|s| s.as_str()).unwrap_or("")
    }
    pub fn is_running_like(&self) -> bool {
        matches!(
            self.state,
            CState::Running | CState::Starting | CState::Stopping
        )
    }
}

fn overlaps(a: &str, b: &str) -> bool {
    let a = a.trim_end_matches('/');
    let b = b.trim_end_matches('/');
    a == b || a.starts_with(&format!("{b}/")) || b.starts_with(&format!("{a}/"))
}

/// `10s`, `500ms`, `1m`, or plain seconds → milliseconds.
pub(super) fn parse_duration_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Some(v) = s.strip_suffix("ms") {
        return v.parse().ok();
    }
    if let Some(v) = s.strip_suffix('s') {
        return v.parse::<f64>().ok().map(|x| x * 1000.0);
    }
    if let Some(v) = s.strip_suffix('m') {
        return v.parse::<f64>().ok().map(|x| x * 60_000.0);
    }
    s.parse::<f64>().ok().map(|x| x * 1000.0)
}

/// The `startFailImages` knob: the row's name or image source matches.
fn broken(patterns: &[String], props: &Row) -> bool {
    let source = ["name", "remote-image", "file"]
        .iter()
        .filter_map(|k| props.get(*k))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    patterns
        .iter()
        .any(|p| !p.is_empty() && source.contains(p.as_str()))
}

fn dir_has_content(p: &Path) -> bool {
    std::fs::read_dir(p)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
}

impl Device {
    pub fn container_index(&self, target: &str) -> Option<usize> {
        let by_id = super::rows::parse_id(target);
        self.t
            .containers
            .iter()
            .position(|c| Some(c.id) == by_id || (!c.name().is_empty() && c.name() == target))
    }

    /// Resolves `numbers`/`.id` (comma list of ids or names) to container ids.
    pub fn container_targets(&self, target: &str) -> Result<Vec<u64>, ApiError> {
        let mut out = Vec::new();
        for t in split_list(target) {
            let i = self
                .container_index(&t)
                .ok_or_else(ApiError::no_such_item)?;
            out.push(self.t.containers[i].id);
        }
        if out.is_empty() {
            return Err(ApiError::no_such_item());
        }
        Ok(out)
    }

    fn pos(&self, id: u64) -> Option<usize> {
        self.t.containers.iter().position(|c| c.id == id)
    }

    /// Validates and creates a container row in E; returns the id and the import to run.
    pub fn container_add(
        &mut self,
        mut props: Row,
        now: Instant,
    ) -> Result<(u64, Option<ImportJob>), ApiError> {
        let knobs = self.t.knobs.clone();
        if let Some(name) = props.get("name")
            && self.t.containers.iter().any(|c| c.name() == name)
        {
            return Err(ApiError::failure("container with such name already exists"));
        }
        let file = props.get("file").filter(|s| !s.is_empty()).cloned();
        if file
            .as_ref()
            .is_some_and(|f| f.split('/').any(|c| c == ".."))
        {
            return Err(ApiError::bad("invalid value for argument file"));
        }
        let remote = props.get("remote-image").filter(|s| !s.is_empty()).cloned();
        if file.is_some() == remote.is_some() {
            return Err(ApiError::failure("No file or remote-image specified"));
        }
        if let Some(ifaces) = props.get("interface") {
            for i in split_list(ifaces) {
                if !self.veth_exists(&i) {
                    return Err(ApiError::bad("input does not match any value of interface"));
                }
            }
        }
        let id = self.t.alloc();
        if !props.contains_key("name") {
            props.insert("name".into(), format!("container{id:x}"));
        }
        let name = props["name"].clone();
        let root = props
            .get("root-dir")
            .cloned()
            .unwrap_or_else(|| format!("containers/{name}"));
        let root = root.strip_prefix('/').unwrap_or(&root).to_string();
        if root.trim_matches('/').is_empty() {
            return Err(ApiError::failure("root-dir can not be /"));
        }
        if root.split('/').any(|c| c == "..") {
            return Err(ApiError::bad("invalid value for argument root-dir"));
        }
        self.prune_removed(now);
        let window = knobs.sim_ms(knobs.root_dir_overlap_window_ms as f64);
        let clash = self
            .t
            .containers
            .iter()
            .any(|c| overlaps(c.root_dir(), &root))
            || self
                .rt
                .removed
                .iter()
                .any(|(r, _, at)| overlaps(r, &root) && now.duration_since(*at) < window);
        if clash {
            return Err(ApiError::failure("root-dir overlap"));
        }
        let root_abs = self.disk_root.join(&root);
        let reuse = dir_has_content(&root_abs);
        if self.profile.rejects_existing_root_dir() && root_abs.exists() {
            return Err(ApiError::failure("root-dir already exists"));
        }
        props.insert("root-dir".into(), root.clone());
        for flag in ["logging", "start-on-boot"] {
            props.entry(flag.into()).or_insert_with(|| "false".into());
        }
        let size_bytes = file
            .as_ref()
            .and_then(|f| std::fs::metadata(self.disk_root.join(f.trim_start_matches('/'))).ok())
            .map(|m| m.len())
            .unwrap_or(0);
        let extract_ms = if reuse {
            knobs.extract_overhead_ms as f64
        } else {
            knobs.extract_overhead_ms as f64
                + size_bytes as f64 / (knobs.extract_mbps.max(0.001) * 1_000_000.0) * 1000.0
        };
        let drop_window = knobs.sim_ms(knobs.start_drop_window_ms as f64);
        // Recreating a name removed earlier in this run opens the start-drop window.
        let recreated = self.rt.removed.iter().any(|(_, n, _)| n == &name);
        let mut c = Container {
            id,
            props,
            state: CState::Extracting,
            rt: CRuntime {
                deadline: Some(now + knobs.sim_ms(extract_ms)),
                settle_until: Some(now + knobs.sim_ms(knobs.settle_ms as f64)),
                import: ImportState::Pending,
                drop_start_until: recreated.then(|| now + drop_window),
                ..Default::default()
            },
        };
        let job = if reuse {
            c.rt.import = ImportState::Done;
            None
        } else if let Some(f) = file {
            Some(ImportJob::Archive {
                id,
                archive: self.disk_root.join(f.trim_start_matches('/')),
                root: root_abs,
            })
        } else {
            let check = c
                .props
                .get("check-certificate")
                .map(|v| v != "false")
                .unwrap_or(true);
            let opt = |k: &str| self.t.config.get(k).filter(|s| !s.is_empty()).cloned();
            let opts = PullOptions {
                arch: self.arch().into(),
                fetch_config: self.rt.processes,
                check_certificate: check,
                default_registry: opt("registry-url").unwrap_or_default(),
                bytes_per_sec: knobs.pull_bytes_per_sec,
                username: opt("username"),
                password: opt("password"),
                ..PullOptions::default()
            };
            Some(ImportJob::Pull {
                id,
                reference: remote.unwrap_or_default(),
                root: root_abs,
                opts,
            })
        };
        if reuse {
            self.log(
                "container,info",
                format!("container {name}: root-dir {root} not empty, skipping extraction"),
            );
        } else {
            self.log(
                "container,info",
                format!("container {name}: importing image"),
            );
        }
        self.t.containers.push(c);
        self.rt.dirty = true;
        Ok((id, job))
    }

    /// Records the end of an import; the row leaves E on the next tick once its timer ran out.
    pub fn import_finished(&mut self, id: u64, result: Result<(), String>) {
        let fail_rate = self.t.knobs.extract_fail_rate;
        let roll = fail_rate > 0.0 && self.rt.rng.random::<f64>() < fail_rate;
        if let Some(i) = self.pos(id) {
            self.t.containers[i].rt.import = match result {
                Ok(()) if roll => ImportState::Failed("injected extraction failure".into()),
                Ok(()) => ImportState::Done,
                Err(e) => ImportState::Failed(e),
            };
        }
        self.tick(Instant::now());
    }

    pub fn container_start(&mut self, ids: &[u64], now: Instant) -> Result<(), ApiError> {
        let knobs = self.t.knobs.clone();
        for &id in ids {
            let Some(i) = self.pos(id) else {
                return Err(ApiError::no_such_item());
            };
            let c = &mut self.t.containers[i];
            if c.rt.drop_start_until.map(|t| now < t).unwrap_or(false) {
                return Err(ApiError::Drop);
            }
            match c.state {
                CState::Extracting => {
                    if knobs.start_refused_during_extract {
                        return Err(ApiError::failure("container is not ready"));
                    }
                    c.rt.start_pending = true;
                }
                CState::Stopped => {
                    c.state = CState::Starting;
                    c.props.remove("comment");
                    c.rt.deadline = Some(now + knobs.sim_ms(knobs.start_delay_ms as f64));
                }
                CState::Deleting => return Err(ApiError::no_such_item()),
                _ => {}
            }
        }
        self.rt.dirty = true;
        Ok(())
    }

    pub fn container_stop(&mut self, ids: &[u64], now: Instant) -> Result<(), ApiError> {
        let knobs = self.t.knobs.clone();
        for &id in ids {
            let Some(i) = self.pos(id) else {
                return Err(ApiError::no_such_item());
            };
            let c = &mut self.t.containers[i];
            if matches!(c.state, CState::Running | CState::Starting) {
                let mut ms = knobs.stop_delay_ms as f64;
                if let Some(st) = c.props.get("stop-time").and_then(|s| parse_duration_ms(s)) {
                    ms = ms.min(st);
                }
                c.state = CState::Stopping;
                c.rt.deadline = Some(now + knobs.sim_ms(ms));
                let name = c.name().to_string();
                self.log("container,info", format!("container {name}: stopping"));
            }
        }
        self.rt.dirty = true;
        Ok(())
    }

    pub fn container_remove(&mut self, ids: &[u64], now: Instant) -> Result<(), ApiError> {
        let knobs = self.t.knobs.clone();
        let window = knobs.sim_ms(knobs.remove_running_window_ms as f64);
        for &id in ids {
            let Some(i) = self.pos(id) else {
                return Err(ApiError::no_such_item());
            };
            let c = &self.t.containers[i];
            let recently =
                c.rt.stopped_at
                    .map(|t| now.duration_since(t) < window)
                    .unwrap_or(false);
            if c.is_running_like() || (c.state == CState::Stopped && recently) {
                return Err(ApiError::failure("cannot remove running container"));
            }
        }
        for &id in ids {
            let i = self.pos(id).expect("checked above");
            let c = &mut self.t.containers[i];
            if c.state != CState::Deleting {
                c.state = CState::Deleting;
                c.rt.deadline = Some(now + knobs.sim_ms(knobs.remove_ms as f64));
            }
        }
        self.rt.dirty = true;
        Ok(())
    }

    /// `/_sim/containers/<name>/crash`: a running container exits.
    pub fn container_crash(&mut self, target: &str, now: Instant) -> Result<(), String> {
        let i = self
            .container_index(target)
            .ok_or_else(|| format!("no container {target}"))?;
        let c = &mut self.t.containers[i];
        if !c.is_running_like() {
            return Err(format!("container {target} is not running"));
        }
        c.state = CState::Stopped;
        c.rt.stopped_at = Some(now);
        c.props
            .insert("comment".into(), "exited with status 137".into());
        let name = c.name().to_string();
        self.log(
            "container,info",
            format!("container {name}: exited with status 137"),
        );
        Ok(())
    }

    /// Device reboot (or simulator restart): everything stops, start-on-boot units start
    /// once the device is back (`down_until`).
    pub fn reboot(&mut self, down: Duration, now: Instant) {
        self.rt.sessions.clear();
        self.rt.down_until = Some(now + down);
        let mut names = Vec::new();
        self.t.containers.retain(|c| c.state != CState::Deleting);
        for c in &mut self.t.containers {
            match c.state {
                // Import interrupted by a restart: keep what is on disk.
                CState::Extracting if c.rt.import == ImportState::Idle => {
                    c.state = CState::Stopped;
                }
                CState::Running | CState::Starting | CState::Stopping => {
                    c.state = CState::Stopped;
                    c.rt.stopped_at = Some(now);
                    names.push(c.name().to_string());
                }
                _ => {}
            }
        }
        for n in names {
            self.log("container,info", format!("container {n}: stopped"));
        }
        if self.t.knobs.renumber_on_reboot {
            self.renumber();
        }
        self.log("system,info", "system rebooted");
        self.rt.dirty = true;
    }

    /// Gives every row a fresh id (knob `renumberOnReboot`); dangling `*hex` port
    /// interfaces follow their old veth's new id.
    fn renumber(&mut self) {
        let mut map = std::collections::HashMap::new();
        for c in &mut self.t.containers {
            let id = self.t.next_id;
            self.t.next_id += 1;
            c.id = id;
        }
        let keys: Vec<String> = self.t.tables.keys().cloned().collect();
        for k in keys {
            let rows = self.t.tables.get_mut(&k).expect("key listed");
            for r in rows.iter_mut() {
                let id = fmt_id(self.t.next_id);
                self.t.next_id += 1;
                if let Some(old) = r.insert(".id".into(), id.clone()) {
                    map.insert(old, id);
                }
            }
        }
        for p in self.t.table_mut(super::device::PORT).iter_mut() {
            if let Some(new) = p.get("interface").and_then(|i| map.get(i)).cloned() {
                p.insert("interface".into(), new);
            }
        }
        self.t.file_ids.clear();
    }

    fn prune_removed(&mut self, now: Instant) {
        let k = &self.t.knobs;
        let keep = k
            .sim_ms(k.root_dir_overlap_window_ms.max(k.start_drop_window_ms) as f64)
            .max(Duration::from_secs(600));
        self.rt
            .removed
            .retain(|(_, _, at)| now.duration_since(*at) < keep);
    }

    /// Applies every transition whose time has come.
    pub fn tick(&mut self, now: Instant) {
        let knobs = self.t.knobs.clone();
        if let Some(t) = self.rt.down_until
            && now >= t
        {
            self.rt.down_until = None;
            for c in &mut self.t.containers {
                if c.state == CState::Stopped && is_true(&c.props, "start-on-boot") {
                    c.state = CState::Starting;
                    c.rt.deadline = Some(now + knobs.sim_ms(knobs.start_delay_ms as f64));
                }
            }
            self.rt.dirty = true;
        }
        let mut logs: Vec<(&str, String)> = Vec::new();
        let mut gone: Vec<usize> = Vec::new();
        let veths: Vec<String> = self
            .t
            .table(VETH)
            .iter()
            .filter_map(|r| r.get("name").cloned())
            .collect();
        for (i, c) in self.t.containers.iter_mut().enumerate() {
            let due = c.rt.deadline.map(|d| now >= d).unwrap_or(true);
            if !due {
                continue;
            }
            let name = c.name().to_string();
            match c.state {
                CState::Extracting => match c.rt.import.clone() {
                    ImportState::Done | ImportState::Idle => {
                        let auto =
                            knobs.auto_start_after_extract && is_true(&c.props, "start-on-boot");
                        if auto || c.rt.start_pending {
                            c.state = CState::Starting;
                            c.rt.deadline = Some(now + knobs.sim_ms(knobs.start_delay_ms as f64));
                        } else {
                            c.state = CState::Stopped;
                            c.rt.deadline = None;
                            c.rt.stopped_at = None;
                        }
                        logs.push((
                            "container,info",
                            format!("container {name}: image imported"),
                        ));
                        self.rt.dirty = true;
                    }
                    ImportState::Failed(e) => {
                        logs.push((
                            "container,error",
                            format!("container {name}: import failed: {e}"),
                        ));
                        gone.push(i);
                    }
                    ImportState::Pending => {}
                },
                CState::Starting => {
                    let ifaces = c
                        .props
                        .get("interface")
                        .map(|s| split_list(s))
                        .unwrap_or_default();
                    c.rt.deadline = None;
                    self.rt.dirty = true;
                    if ifaces.iter().any(|i| !veths.contains(i)) {
                        c.state = CState::Stopped;
                        c.rt.stopped_at = Some(now);
                        c.props.insert(
                            "comment".into(),
                            "could not acquire interface: no device (6)".into(),
                        );
                        logs.push((
                            "container,error",
                            format!("container {name}: could not acquire interface: no device (6)"),
                        ));
                    } else if self.rt.processes {
                        // The supervisor starts the process and reports R or S.
                        c.rt.launch = true;
                    } else if broken(&knobs.start_fail_images, &c.props) {
                        c.state = CState::Stopped;
                        c.rt.stopped_at = Some(now);
                        c.props
                            .insert("comment".into(), "exited with status 1".into());
                        logs.push(("container,info", format!("container {name}: started")));
                        logs.push((
                            "container,error",
                            format!("container {name}: exited with status 1"),
                        ));
                    } else {
                        c.state = CState::Running;
                        logs.push(("container,info", format!("container {name}: started")));
                    }
                }
                // The supervisor reports S once the process is gone.
                CState::Stopping if self.rt.processes => c.rt.deadline = None,
                CState::Stopping => {
                    c.state = CState::Stopped;
                    c.rt.deadline = None;
                    c.rt.stopped_at = Some(now);
                    logs.push(("container,info", format!("container {name}: stopped")));
                    self.rt.dirty = true;
                }
                CState::Deleting => {
                    logs.push(("container,info", format!("container {name}: removed")));
                    gone.push(i);
                }
                CState::Stopped | CState::Running => {}
            }
        }
        for i in gone.into_iter().rev() {
            let c = self.t.containers.remove(i);
            if c.state == CState::Deleting {
                self.rt
                    .removed
                    .push((c.root_dir().to_string(), c.name().to_string(), now));
                if knobs.remove_deletes_root_dir && !c.root_dir().is_empty() {
                    let _ = std::fs::remove_dir_all(self.disk_root.join(c.root_dir()));
                }
            }
            self.rt.dirty = true;
        }
        for (topics, msg) in logs {
            self.log(topics, msg);
        }
    }

    /// Printed rows per profile: flags (7.20+) or `status` text (≤7.19).
    pub fn container_rows(&self, now: Instant) -> Vec<Row> {
        self.t
            .containers
            .iter()
            .map(|c| {
                let mut r = c.props.clone();
                r.insert(".id".into(), fmt_id(c.id));
                r.entry("os".into()).or_insert_with(|| "linux".into());
                // Process containers run on this machine, in its architecture.
                r.entry("arch".into()).or_insert_with(|| self.arch().into());
                r.entry("stop-signal".into()).or_insert_with(|| "15".into());
                if let Some(img) = c.props.get("remote-image") {
                    r.insert("repo".into(), img.clone());
                }
                let settling = c.rt.settle_until.map(|t| now < t).unwrap_or(false);
                let shown = if settling || c.state == CState::Deleting {
                    None
                } else {
                    Some(c.state)
                };
                if self.profile.state_flags() {
                    for (flag, st) in [
                        ("extracting", CState::Extracting),
                        ("stopped", CState::Stopped),
                        ("starting", CState::Starting),
                        ("running", CState::Running),
                        ("stopping", CState::Stopping),
                    ] {
                        r.insert(flag.into(), (shown == Some(st)).to_string());
                    }
                } else if let Some(st) = shown {
                    let text = serde_json::to_value(st)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default();
                    r.insert("status".into(), text);
                }
                r
            })
            .collect()
    }

    /// The architecture rows show and pulls pick: arm64 (an RDS2216), or this machine's when
    /// containers run as processes here.
    pub fn arch(&self) -> &'static str {
        if self.rt.processes {
            crate::oci::manifest::normalise_arch(std::env::consts::ARCH)
        } else {
            "arm64"
        }
    }

    /// Veth names used by running containers.
    pub fn running_interfaces(&self) -> Vec<String> {
        self.t
            .containers
            .iter()
            .filter(|c| c.state == CState::Running)
            .flat_map(|c| {
                c.props
                    .get("interface")
                    .map(|s| split_list(s))
                    .unwrap_or_default()
            })
            .collect()
    }
}
