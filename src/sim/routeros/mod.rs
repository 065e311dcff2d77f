//! RouterOS 7 device simulator speaking the REST dialect of `spec/routeros-rest.md` §5.
//!
//! [`start`] runs the HTTP server on its own thread (an actix system), so it works from
//! `#[actix_rt::test]` and from any tokio runtime. Device state lives in one mutex-guarded
//! [`device::Device`]; a background ticker drives timed transitions, probe listeners and
//! the state file.
//!
//! Control API (JSON, no auth) under `/_sim`: `GET|DELETE journal`, `GET|POST state`,
//! `POST reset`, `GET|PATCH knobs` (see [`knobs::Knobs`]), `GET|POST|DELETE faults`
//! (see [`faults::Fault`]), `POST reboot {"downSeconds":N}`, `POST seed`,
//! `POST containers/<name>/crash`, `GET health`.
//!
//! With [`SimOptions::run_containers`] a started container runs its image as a real, isolated
//! process (see [`process`]); the start refuses when the machine cannot isolate it.
//!
//! Time: every simulated device duration (extraction, start/stop/remove delays, windows,
//! settle, `/file` cost, reboot downtime) is divided by the `clockFactor` knob; HTTP
//! latency knobs and `requestCapMs` are wall-clock.

pub mod container;
pub mod control;
pub mod device;
pub mod errors;
pub mod faults;
pub mod fetch;
pub mod files;
pub mod import;
pub mod journal;
pub mod knobs;
pub mod menus;
pub mod persist;
pub mod probes;
pub mod process;
pub mod profile;
pub mod rows;
pub mod server;
pub mod shared;
pub mod tables;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpServer, web};

pub use profile::Profile;

use device::{Device, Tables};
use shared::Shared;

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub listen: SocketAddr,
    /// Host directory standing for the device's file root (top-level folders are disks).
    pub disk_root: PathBuf,
    pub state_file: Option<PathBuf>,
    pub profile: Profile,
    pub user: String,
    pub password: String,
    /// Fixed extra latency on every /rest request.
    pub latency: Duration,
    /// One worker and one request at a time.
    pub serial: bool,
    /// (certificate chain PEM, private key PEM) to serve HTTPS.
    pub tls: Option<(Vec<u8>, Vec<u8>)>,
    /// Run started containers as isolated processes (mount + UTS namespaces, chroot).
    pub run_containers: bool,
}

impl SimOptions {
    pub fn new(disk_root: PathBuf) -> Self {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            disk_root,
            state_file: None,
            profile: Profile::default(),
            user: "admin".into(),
            password: String::new(),
            latency: Duration::ZERO,
            serial: false,
            tls: None,
            run_containers: false,
        }
    }
}

pub struct RunningSim {
    addr: SocketAddr,
    tls: bool,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningSim {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    fn base(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
    pub fn rest_url(&self) -> String {
        format!("{}/rest", self.base())
    }
    pub fn control_url(&self) -> String {
        format!("{}/_sim", self.base())
    }
    /// Stops the server and waits for its thread to end.
    pub async fn stop(mut self) {
        self.handle.stop(false).await;
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

fn tls_config(cert: &[u8], key: &[u8]) -> std::io::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(format!("certificate PEM: {e:?}")))?;
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| invalid(format!("key PEM: {e:?}")))?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(e.to_string()))
}

fn build_shared(opts: &SimOptions) -> std::io::Result<Arc<Shared>> {
    std::fs::create_dir_all(&opts.disk_root)?;
    if opts.run_containers {
        process::check_isolation(&opts.disk_root).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("cannot run containers: {e}"),
            )
        })?;
        tracing::info!("routeros-sim: containers run as processes (mount+UTS namespaces, chroot)");
    }
    let loaded = match &opts.state_file {
        Some(p) => persist::load(p)?,
        None => None,
    };
    let restarted = loaded.is_some();
    let tables = loaded.unwrap_or_else(|| Tables::fresh(opts.profile));
    let mut dev = Device::new(
        opts.profile,
        opts.disk_root.clone(),
        opts.user.clone(),
        tables,
    );
    dev.rt.processes = opts.run_containers;
    if restarted {
        // A restart behaves like a reboot (§5.1-17).
        dev.reboot(Duration::ZERO, Instant::now());
    }
    Ok(Arc::new(Shared {
        dev: Mutex::new(dev),
        journal: Mutex::new(Default::default()),
        faults: Mutex::new(Vec::new()),
        state_file: opts.state_file.clone(),
        persist_lock: Mutex::new(()),
        user: opts.user.clone(),
        password: opts.password.clone(),
        serial: opts.serial.then(|| tokio::sync::Mutex::new(())),
        in_flight: AtomicUsize::new(0),
        fixed_latency: opts.latency,
        processes: opts.run_containers.then(Default::default),
    }))
}

type Ready = std::io::Result<(SocketAddr, actix_web::dev::ServerHandle)>;

/// Starts the simulator; returns once it is listening.
pub async fn start(opts: SimOptions) -> std::io::Result<RunningSim> {
    crate::tls::ensure_ring_provider();
    let shared = build_shared(&opts)?;
    shared.persist_if_dirty();
    let tls = opts.tls.is_some();
    let (tx, rx) = tokio::sync::oneshot::channel::<Ready>();
    let thread = std::thread::Builder::new()
        .name("routeros-sim".into())
        .spawn(move || {
            let sys = actix_rt::System::new();
            sys.block_on(async move {
                let server = match bind(&opts, shared.clone()) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let (srv, addr) = server;
                let _ = tx.send(Ok((addr, srv.handle())));
                let ticker = actix_rt::spawn(ticker(shared.clone()));
                let _ = srv.await;
                ticker.abort();
                if let Some(mut p) = shared.processes() {
                    p.shutdown();
                }
                shared.persist_if_dirty();
            });
        })?;
    let (addr, handle) = rx
        .await
        .map_err(|_| std::io::Error::other("simulator thread ended before listening"))??;
    tracing::info!(%addr, "routeros-sim listening");
    Ok(RunningSim {
        addr,
        tls,
        handle,
        thread: Some(thread),
    })
}

fn bind(
    opts: &SimOptions,
    shared: Arc<Shared>,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    let data = web::Data::new(shared);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
            .default_service(web::to(server::entry))
    })
    .workers(if opts.serial { 1 } else { 2 })
    .disable_signals()
    .shutdown_timeout(1)
    .on_connect(|conn, ext| {
        use std::os::fd::AsRawFd;
        if let Some(s) = conn.downcast_ref::<actix_rt::net::TcpStream>() {
            ext.insert(server::ConnFd(s.as_raw_fd()));
        }
    });
    let server = match &opts.tls {
        Some((cert, key)) => server.bind_rustls_0_23(opts.listen, tls_config(cert, key)?)?,
        None => server.bind(opts.listen)?,
    };
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| std::io::Error::other("no listening address"))?;
    Ok((server.run(), addr))
}

/// Drives timed transitions, probe listeners, container processes and the state file. Runs on
/// the simulator's thread, which container processes are tied to.
async fn ticker(sh: Arc<Shared>) {
    let mut probes = probes::Probes::default();
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let want = {
            let d = sh.dev();
            probes::wanted(&d)
        };
        probes.sync(&want);
        if let Some(mut p) = sh.processes() {
            p.sync(&sh);
        }
        sh.persist_if_dirty();
    }
}
