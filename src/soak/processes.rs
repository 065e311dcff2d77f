//! The site's processes on loopback: nats-server, routeros-sim, microdns-sim, mkube-registry
//! and mkube, each restartable on the same port so a fault can stop and bring it back.

use anyhow::{Context, Result, bail};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// A free loopback port, chosen by the kernel (never one of the demo's fixed ports).
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding a free loopback port")?;
    Ok(l.local_addr()?.port())
}

/// Every port of the site, picked once so a restarted process comes back where it was.
#[derive(Debug, Clone)]
pub struct Ports {
    pub nats: u16,
    pub nats_http: u16,
    pub device: u16,
    pub dns_rest: u16,
    pub dns_udp: u16,
    pub dns_control: u16,
    pub registry: u16,
    pub registry_mgmt: u16,
    pub api: u16,
}

impl Ports {
    pub fn pick() -> Result<Ports> {
        Ok(Ports {
            nats: free_port()?,
            nats_http: free_port()?,
            device: free_port()?,
            dns_rest: free_port()?,
            dns_udp: free_port()?,
            dns_control: free_port()?,
            registry: free_port()?,
            registry_mgmt: free_port()?,
            api: free_port()?,
        })
    }
}

/// One of the site's programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Nats,
    Device,
    Dns,
    Registry,
    Mkube,
}

impl Program {
    pub fn name(self) -> &'static str {
        match self {
            Program::Nats => "nats-server",
            Program::Device => "routeros-sim",
            Program::Dns => "microdns-sim",
            Program::Registry => "mkube-registry",
            Program::Mkube => "mkube",
        }
    }
}

/// The running site: its directory, ports and children (killed when dropped).
pub struct Site {
    pub dir: PathBuf,
    pub bins: PathBuf,
    pub ports: Ports,
    children: Vec<(Program, Child)>,
    /// How many times any program was started, to name its log files.
    starts: u32,
    /// Every start: which program, when.
    history: Vec<(Program, Instant)>,
}

impl Site {
    pub fn new(dir: PathBuf, bins: PathBuf) -> Result<Site> {
        Ok(Site {
            dir,
            bins,
            ports: Ports::pick()?,
            children: Vec::new(),
            starts: 0,
            history: Vec::new(),
        })
    }

    pub fn api(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.api)
    }
    pub fn device(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.device)
    }
    pub fn dns_rest(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.dns_rest)
    }
    pub fn dns_control(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.dns_control)
    }
    pub fn registry(&self) -> String {
        format!("127.0.0.1:{}", self.ports.registry)
    }
    pub fn nats_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.ports.nats)
    }

    pub fn is_running(&mut self, program: Program) -> bool {
        self.children
            .iter_mut()
            .any(|(p, c)| *p == program && matches!(c.try_wait(), Ok(None)))
    }

    /// The process id of the running `program`.
    pub fn pid(&self, program: Program) -> Option<u32> {
        self.children
            .iter()
            .rev()
            .find(|(p, _)| *p == program)
            .and_then(|(_, c)| c.id())
    }

    /// How often `program` was started, and when last.
    pub fn started(&self, program: Program) -> (usize, Option<Instant>) {
        let mut mine = self.history.iter().filter(|(p, _)| *p == program);
        (mine.clone().count(), mine.next_back().map(|(_, t)| *t))
    }

    /// Starts `program` and waits until it answers its health check (mkube: `/healthz`).
    pub async fn start(&mut self, program: Program) -> Result<()> {
        self.starts += 1;
        let log_path = self
            .dir
            .join(format!("{}-{}.log", program.name(), self.starts));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut cmd = self.command(program)?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", program.name()))?;
        self.children.push((program, child));
        self.history.push((program, Instant::now()));
        let health = self.health_url(program);
        wait_http(&health, Duration::from_secs(30))
            .await
            .with_context(|| {
                format!(
                    "{} did not come up (log {})",
                    program.name(),
                    log_path.display()
                )
            })
    }

    /// kill -9 of every running instance of `program`, waiting until it is gone.
    pub async fn kill(&mut self, program: Program) {
        let mut kept = Vec::new();
        for (p, mut c) in self.children.drain(..) {
            if p == program {
                let _ = c.start_kill();
                let _ = c.wait().await;
            } else {
                kept.push((p, c));
            }
        }
        self.children = kept;
    }

    /// Stops everything, mkube first and NATS last.
    pub async fn stop_all(&mut self) {
        for p in [
            Program::Mkube,
            Program::Registry,
            Program::Dns,
            Program::Device,
            Program::Nats,
        ] {
            self.kill(p).await;
        }
    }

    fn health_url(&self, program: Program) -> String {
        match program {
            Program::Nats => format!("http://127.0.0.1:{}/healthz", self.ports.nats_http),
            Program::Device => format!("{}/_sim/health", self.device()),
            Program::Dns => format!("{}/_control/health", self.dns_control()),
            Program::Registry => format!("http://127.0.0.1:{}/healthz", self.ports.registry_mgmt),
            Program::Mkube => format!("{}/healthz", self.api()),
        }
    }

    fn bin(&self, name: &str) -> Result<PathBuf> {
        let path = self.bins.join(name);
        if !path.is_file() {
            bail!(
                "{} not found (build it: cargo build --bins)",
                path.display()
            );
        }
        Ok(path)
    }

    fn command(&self, program: Program) -> Result<Command> {
        let d = &self.dir;
        let p = &self.ports;
        let mut cmd;
        match program {
            Program::Nats => {
                cmd = Command::new("nats-server");
                cmd.arg("-c").arg(d.join("nats.conf"));
            }
            Program::Device => {
                cmd = Command::new(self.bin("routeros-sim")?);
                cmd.arg("--listen")
                    .arg(format!("127.0.0.1:{}", p.device))
                    .arg("--disk-root")
                    .arg(d.join("device"))
                    .arg("--state-file")
                    .arg(d.join("routeros-state.json"))
                    .args(["--user", "admin", "--password", "soak"]);
            }
            Program::Dns => {
                cmd = Command::new(self.bin("microdns-sim")?);
                cmd.arg("--listen")
                    .arg(format!("127.0.0.1:{}", p.dns_rest))
                    .arg("--dns-listen")
                    .arg(format!("127.0.0.1:{}", p.dns_udp))
                    .arg("--control-listen")
                    .arg(format!("127.0.0.1:{}", p.dns_control))
                    .arg("--state-file")
                    .arg(d.join("microdns.json"));
            }
            Program::Registry => {
                cmd = Command::new(self.bin("mkube-registry")?);
                cmd.arg("--listen")
                    .arg(self.registry())
                    .arg("--mgmt-listen")
                    .arg(format!("127.0.0.1:{}", p.registry_mgmt))
                    .arg("--store")
                    .arg(d.join("registry"))
                    .arg("--notify-url")
                    .arg(format!("{}/api/v1/registry/push-notify", self.api()));
            }
            Program::Mkube => {
                cmd = Command::new(self.bin("mkube")?);
                cmd.arg("run")
                    .arg("--config")
                    .arg(d.join("mkube.yaml"))
                    .env("RUST_LOG", "info");
            }
        }
        Ok(cmd)
    }
}

/// Waits until `url` answers 2xx, or fails after `limit`.
pub async fn wait_http(url: &str, limit: Duration) -> Result<()> {
    let http = super::http::client(Duration::from_secs(2))?;
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(r) = http.get(url).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{url} did not answer within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The directory the soak binary lives in, where cargo put the other binaries too.
pub fn bins_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the soak binary")?;
    exe.parent()
        .map(Path::to_path_buf)
        .context("the soak binary has no directory")
}
