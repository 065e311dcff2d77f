//! Process containers (`routeros-sim --run-containers`): a started container runs its image's
//! entrypoint and `cmd` as a real process, isolated as on a device (see [`isolate`]).
//!
//! The [`Supervisor`] is driven by the simulator's ticker (every 10 ms, on the simulator's own
//! thread, which every child is tied to by `PR_SET_PDEATHSIG`). Each pass it:
//! - reaps exited processes: a running container goes to S with `exited with status N` in its
//!   `comment` and in `/log`; a stopping one goes to S (`stopped`);
//! - signals: a stopping container's process gets its `stop-signal` (SIGTERM), then SIGKILL
//!   after `stop-time` or the `processStopGraceMs` knob (wall-clock); a process whose container
//!   is no longer running (reboot, reset, state load) is stopped the same way, detached from it;
//! - starts each container whose start delay ran out ([`Device::tick`] leaves it in N): the row
//!   turns R once the process runs, or S with the reason (`execvpe /x: No such file or
//!   directory`) when it cannot start;
//! - copies the output of `logging=yes` containers into `/log` (`container,info`,
//!   `<name>: <line>`).
//!
//! Files: [`image`] (the run config beside root-dir), [`launch`] (what to run, pure),
//! [`isolate`] (how: namespaces, binds, chroot; and the check at start).

pub mod image;
pub mod isolate;
pub mod launch;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::Child;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::container::CState;
use super::device::Device;
use super::shared::Shared;
use image::ImageConfig;
use launch::LaunchSpec;

/// How long an exit waits for the last output lines before it is reported anyway.
const OUTPUT_DRAIN: Duration = Duration::from_secs(1);
/// Longest output line kept; longer lines are split.
const MAX_LINE: usize = 4096;

pub use isolate::check as check_isolation;

/// One running (or exiting) process.
struct Proc {
    id: u64,
    name: String,
    child: Child,
    readers: Vec<JoinHandle<()>>,
    signal: Signal,
    grace: Duration,
    /// When the stop signal was sent.
    term_at: Option<Instant>,
    killed: bool,
    /// No longer the container's process (its container stopped underneath it).
    detached: bool,
    exit: Option<(i32, Instant)>,
}

impl Proc {
    fn pgid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }
    fn send(&self, sig: Signal) {
        let _ = killpg(self.pgid(), sig);
    }
    fn output_done(&self, now: Instant) -> bool {
        self.readers.iter().all(|r| r.is_finished())
            || self
                .exit
                .is_some_and(|(_, at)| now.duration_since(at) > OUTPUT_DRAIN)
    }
}

/// The live processes of one simulator.
pub struct Supervisor {
    procs: Vec<Proc>,
    lines_tx: Sender<(String, String)>,
    lines_rx: Receiver<(String, String)>,
}

impl Default for Supervisor {
    fn default() -> Self {
        let (lines_tx, lines_rx) = channel();
        Supervisor {
            procs: Vec::new(),
            lines_tx,
            lines_rx,
        }
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

fn read_lines(
    stream: impl Read + Send + 'static,
    name: String,
    tx: Sender<(String, String)>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader
                .by_ref()
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut buf)
            {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buf);
                    let line = text.trim_end_matches(['\n', '\r']);
                    if tx.send((name.clone(), line.to_string())).is_err() {
                        return;
                    }
                }
            }
        }
    })
}

impl Supervisor {
    /// One pass: reap, signal, start (see the module comment).
    pub fn sync(&mut self, sh: &Shared) {
        let now = Instant::now();
        for p in self.procs.iter_mut().filter(|p| p.exit.is_none()) {
            if let Ok(Some(status)) = p.child.try_wait() {
                p.exit = Some((exit_code(status), now));
            }
        }
        let (finished, alive): (Vec<Proc>, Vec<Proc>) = std::mem::take(&mut self.procs)
            .into_iter()
            .partition(|p| p.exit.is_some() && p.output_done(now));
        self.procs = alive;
        let lines: Vec<(String, String)> = self.lines_rx.try_iter().collect();
        let mut launches: Vec<LaunchSpec> = Vec::new();
        let mut starts: Vec<u64> = Vec::new();
        {
            let mut d = sh.dev();
            for (name, line) in lines {
                d.log("container,info", format!("{name}: {line}"));
            }
            for p in finished {
                let code = p.exit.map(|(c, _)| c).unwrap_or(-1);
                d.process_exited(p.id, p.detached, code, now);
            }
            for p in &mut self.procs {
                let state =
                    d.t.containers
                        .iter()
                        .find(|c| c.id == p.id)
                        .map(|c| c.state);
                match state {
                    Some(CState::Running) if !p.detached => {}
                    Some(CState::Stopping) if !p.detached => {}
                    _ => p.detached = true,
                }
                let stopping = p.detached || state == Some(CState::Stopping);
                if stopping && p.term_at.is_none() && p.exit.is_none() {
                    p.send(p.signal);
                    p.term_at = Some(now);
                }
                if let Some(t) = p.term_at
                    && !p.killed
                    && p.exit.is_none()
                    && now >= t + p.grace
                {
                    p.send(Signal::SIGKILL);
                    p.killed = true;
                }
            }
            let has_proc = |id: u64| self.procs.iter().any(|p| p.id == id);
            let grace = Duration::from_millis(d.knobs().process_stop_grace_ms);
            let mut stopped = Vec::new();
            for c in d.t.containers.iter_mut() {
                if c.state == CState::Stopping && !has_proc(c.id) {
                    stopped.push(c.id);
                }
                if c.state == CState::Starting && c.rt.launch && !has_proc(c.id) {
                    c.rt.launch = false;
                    starts.push(c.id);
                }
            }
            for id in stopped {
                d.process_exited(id, false, 0, now);
            }
            for id in std::mem::take(&mut starts) {
                match d.launch_spec(id, grace) {
                    Ok(spec) => launches.push(spec),
                    Err(e) => d.process_started(id, Err(e)),
                }
            }
        }
        for spec in launches {
            let result = self.launch(&spec);
            sh.dev().process_started(spec.id, result);
        }
    }

    /// Prepares and spawns one container's process.
    fn launch(&mut self, spec: &LaunchSpec) -> Result<(), String> {
        let image = ImageConfig::load(&spec.root)?;
        let resolved = spec.resolve(&image)?;
        let prepared = isolate::prepare(spec, &resolved)?;
        let mut child = isolate::spawn(prepared).map_err(|e| format!("could not start: {e}"))?;
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(read_lines(out, spec.name.clone(), self.lines_tx.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(read_lines(err, spec.name.clone(), self.lines_tx.clone()));
        }
        self.procs.push(Proc {
            id: spec.id,
            name: spec.name.clone(),
            child,
            readers,
            signal: Signal::try_from(spec.stop_signal).unwrap_or(Signal::SIGTERM),
            grace: spec.stop_grace,
            term_at: None,
            killed: false,
            detached: false,
            exit: None,
        });
        Ok(())
    }

    /// The crash knob: SIGKILL the container's process; its exit is reported as usual.
    pub fn crash(&mut self, d: &Device, target: &str) -> Result<(), String> {
        let i = d
            .container_index(target)
            .ok_or_else(|| format!("no container {target}"))?;
        let id = d.t.containers[i].id;
        let p = self
            .procs
            .iter_mut()
            .find(|p| p.id == id && !p.detached && p.exit.is_none())
            .ok_or_else(|| format!("container {target} is not running"))?;
        p.send(Signal::SIGKILL);
        p.killed = true;
        Ok(())
    }

    /// Kills every process and waits for it (simulator stop).
    pub fn shutdown(&mut self) {
        for mut p in self.procs.drain(..) {
            if p.exit.is_none() {
                p.send(Signal::SIGKILL);
                let _ = p.child.wait();
            }
            tracing::debug!(container = %p.name, "routeros-sim: process ended with the simulator");
        }
    }
}

impl Device {
    /// Outcome of starting container `id`'s process (it may have been stopped meanwhile).
    fn process_started(&mut self, id: u64, result: Result<(), String>) {
        let now = Instant::now();
        let Some(c) = self.t.containers.iter_mut().find(|c| c.id == id) else {
            return;
        };
        if c.state != CState::Starting {
            return;
        }
        let name = c.name().to_string();
        match result {
            Ok(()) => {
                c.state = CState::Running;
                self.log("container,info", format!("container {name}: started"));
            }
            Err(e) => {
                c.state = CState::Stopped;
                c.rt.stopped_at = Some(now);
                c.props.insert("comment".into(), e.clone());
                self.log("container,error", format!("container {name}: {e}"));
            }
        }
        self.rt.dirty = true;
    }

    /// Container `id`'s process ended with `code` (a detached process only ends).
    fn process_exited(&mut self, id: u64, detached: bool, code: i32, now: Instant) {
        if detached {
            return;
        }
        let Some(c) = self.t.containers.iter_mut().find(|c| c.id == id) else {
            return;
        };
        let name = c.name().to_string();
        match c.state {
            CState::Stopping => {
                c.state = CState::Stopped;
                c.rt.deadline = None;
                c.rt.stopped_at = Some(now);
                self.log("container,info", format!("container {name}: stopped"));
            }
            CState::Running => {
                c.state = CState::Stopped;
                c.rt.stopped_at = Some(now);
                let text = format!("exited with status {code}");
                c.props.insert("comment".into(), text.clone());
                self.log("container,info", format!("container {name}: {text}"));
            }
            _ => return,
        }
        self.rt.dirty = true;
    }
}
