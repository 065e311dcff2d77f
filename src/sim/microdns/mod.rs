//! microdns test double (spec microdns-api.md §1, §2, §5): the REST API mkube uses, an
//! optional authoritative DNS responder over the same store, fault switches, a request log
//! and a control interface.
//!
//! [`start`] runs everything on its own thread (an actix system), so it works from
//! `#[actix_rt::test]` and from any tokio runtime. The store is one mutex-guarded
//! [`store::Store`]; it can be persisted to a state file (atomic write, reloaded on start).
//!
//! Listeners:
//! - REST on `listen`: `/api/v1/...` (faulted and logged) and `/_control/...` (neither).
//! - Control, optional, on its own port ([`start_with_control`], `--control-listen`): only
//!   `/_control/...`. It stays reachable while the `refuse` fault has the REST port closed;
//!   the in-process handle works in every state too.
//! - DNS, optional, on `dns_listen`: UDP, plus TCP on the same port ([`dns`]).
//!
//! `refuse` really closes the REST listening socket (connections are refused by the
//! kernel); clearing the faults binds the same address again.
//!
//! Fidelity notes: GET and PUT of a record look at the record id only, like DELETE; PUT
//! keeps lookups working after a rename (the February index quirk is not copied); a body
//! over 1 MiB gets actix's 413 before the handler, so it is not in the request log.
//! `refuse` ignores `route`, `method` and `count` (it closes the whole port); `wipe` acts
//! when set.
//!
//! Control routes (JSON): `GET health`, `GET store`, `GET export?server=&network=` (R16
//! backup format), `POST seed` `{zones:[{name, records:[{name,type,data,ttl,enabled}]}],
//! leases:[...]}`, `POST wipe`, `GET|POST|DELETE faults` (see [`faults::Fault`]),
//! `GET|DELETE requests`, `GET|DELETE counters`.

pub mod control;
pub mod dns;
pub mod faults;
pub mod log;
pub mod names;
pub mod persist;
pub mod ptr;
pub mod rest;
pub mod server;
pub mod shared;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use serde::{Deserialize, Serialize};

pub use faults::{BadJsonMode, Fault, FaultKind, Mutation};
pub use log::LoggedRequest;

use server::ControlPort;
use shared::{ListenerCmd, Shared};

/// Which microdns behaviour to copy (spec §5 item 7).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MicrodnsVersion {
    /// February 2026: no automatic PTR, NXDOMAIN on a type miss, first-match zone.
    #[default]
    Feb2026,
    /// Today: automatic reverse zones and PTRs, NOERROR on a type miss, most specific zone.
    Current,
}

impl std::str::FromStr for MicrodnsVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "feb2026" => Ok(MicrodnsVersion::Feb2026),
            "current" => Ok(MicrodnsVersion::Current),
            other => Err(format!("unknown version {other:?} (feb2026 or current)")),
        }
    }
}

#[derive(Clone, Debug)]
pub struct MicrodnsSimOptions {
    pub listen: SocketAddr,
    pub dns_listen: Option<SocketAddr>,
    pub state_file: Option<PathBuf>,
    /// Accept any opaque id in paths instead of requiring UUIDs.
    pub lenient_ids: bool,
    /// Record create dedup (§1.8).
    pub dedup: bool,
    pub version: MicrodnsVersion,
}

impl Default for MicrodnsSimOptions {
    fn default() -> Self {
        MicrodnsSimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            dns_listen: None,
            state_file: None,
            lenient_ids: false,
            dedup: true,
            version: MicrodnsVersion::Feb2026,
        }
    }
}

pub struct RunningMicrodns {
    shared: Arc<Shared>,
    rest: SocketAddr,
    dns: Option<SocketAddr>,
    control: Option<SocketAddr>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningMicrodns {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.rest)
    }
    pub fn rest_addr(&self) -> SocketAddr {
        self.rest
    }
    pub fn dns_addr(&self) -> Option<SocketAddr> {
        self.dns
    }
    /// The separate control listener, when started with one.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control
    }
    /// Creates the zone (or finds it by name); returns its id.
    pub fn seed_zone(&self, name: &str) -> String {
        control::seed_zone(&self.shared, name)
    }
    /// Adds a record without dedup or validation; returns its id. `data` is the bare value
    /// (`json!("10.0.0.1")`) or a full `{type, data}` object.
    ///
    /// # Panics
    /// When `zone_id` is not a zone of this double (a test bug).
    pub fn seed_record(
        &self,
        zone_id: &str,
        name: &str,
        rtype: &str,
        data: serde_json::Value,
        ttl: u32,
    ) -> String {
        let id = control::seed_record(&self.shared, zone_id, name, rtype, data, ttl, true);
        self.shared.persist();
        id.unwrap_or_else(|| panic!("microdns-sim seed_record: unknown zone id {zone_id}"))
    }
    /// Record objects of the zone named `zone_name` as the REST API shows them, in list order.
    pub fn records(&self, zone_name: &str) -> Vec<serde_json::Value> {
        control::records(&self.shared, zone_name)
    }
    /// Zone objects in list order.
    pub fn zones(&self) -> Vec<serde_json::Value> {
        let st = self.shared.store();
        st.zones_sorted()
            .into_iter()
            .map(|z| st.zone_json(z))
            .collect()
    }
    /// Adds seeded leases (objects as `GET /leases` shows them).
    pub fn seed_leases(&self, leases: Vec<serde_json::Value>) {
        self.shared.store().leases.extend(leases);
    }
    /// Adds a fault; `refuse` returns once the REST port is closed.
    pub fn set_fault(&self, fault: Fault) {
        control::set_fault(&self.shared, fault, true);
    }
    /// Removes every fault; reopens the REST port after `refuse`.
    pub fn clear_faults(&self) {
        control::clear_faults(&self.shared, true);
    }
    pub fn faults(&self) -> Vec<Fault> {
        self.shared.faults().rules.clone()
    }
    /// Instant restart with an empty database.
    pub fn wipe(&self) {
        self.shared.wipe();
    }
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log().entries.clone()
    }
    /// Clears the request log and the counters.
    pub fn clear_requests(&self) {
        *self.shared.log() = Default::default();
    }
    /// `"<METHOD> <route template>"` → requests since the last clear.
    pub fn counters(&self) -> std::collections::BTreeMap<String, u64> {
        self.shared.log().counters.clone()
    }
    /// The whole store as `GET /_control/store` shows it.
    pub fn store_json(&self) -> serde_json::Value {
        control::store_json(&self.shared)
    }
    /// The R16 backup document.
    pub fn export(&self, server: &str, network: &str) -> serde_json::Value {
        control::export(&self.shared, server, network)
    }
    /// Stops every listener and waits for the thread to end.
    pub fn stop(mut self) {
        let _ = self.shared.listener_tx.send(ListenerCmd::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RunningMicrodns {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.shared.listener_tx.send(ListenerCmd::Stop);
        }
    }
}

/// Starts the double without a separate control port.
pub async fn start(opts: MicrodnsSimOptions) -> std::io::Result<RunningMicrodns> {
    start_with_control(opts, None).await
}

type Ready = std::io::Result<(SocketAddr, Option<SocketAddr>, Option<SocketAddr>)>;

/// Starts the double; `control` adds a control-only listener. Returns once listening.
pub async fn start_with_control(
    opts: MicrodnsSimOptions,
    control: Option<SocketAddr>,
) -> std::io::Result<RunningMicrodns> {
    let store = match &opts.state_file {
        Some(p) => persist::load(p)?.unwrap_or_default(),
        None => Default::default(),
    };
    let (ltx, lrx) = tokio::sync::mpsc::unbounded_channel();
    let shared = Arc::new(Shared::new(store, &opts, ltx));
    let (tx, rx) = tokio::sync::oneshot::channel::<Ready>();
    let sh = shared.clone();
    let thread = std::thread::Builder::new()
        .name("microdns-sim".into())
        .spawn(move || {
            let sys = actix_rt::System::new();
            sys.block_on(run(opts, control, sh, lrx, tx));
        })?;
    let (rest, dns, control) = rx
        .await
        .map_err(|_| std::io::Error::other("microdns-sim thread ended before listening"))??;
    tracing::info!(%rest, ?dns, ?control, "microdns-sim listening");
    Ok(RunningMicrodns {
        shared,
        rest,
        dns,
        control,
        thread: Some(thread),
    })
}

async fn run(
    opts: MicrodnsSimOptions,
    control: Option<SocketAddr>,
    sh: Arc<Shared>,
    mut cmds: tokio::sync::mpsc::UnboundedReceiver<ListenerCmd>,
    ready: tokio::sync::oneshot::Sender<Ready>,
) {
    let started = async {
        let (rest, rest_addr) = bind(opts.listen, sh.clone(), false)?;
        let ctl = match control {
            Some(a) => Some(bind(a, sh.clone(), true)?),
            None => None,
        };
        let dns = match opts.dns_listen {
            Some(a) => Some(dns::start(sh.clone(), a).await?),
            None => None,
        };
        Ok::<_, std::io::Error>((rest, rest_addr, ctl, dns))
    }
    .await;
    let (rest, rest_addr, ctl, dns) = match started {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok((
        rest_addr,
        dns.as_ref().map(|d| d.0),
        ctl.as_ref().map(|c| c.1),
    )));
    let mut rest = Some(spawn(rest));
    let ctl = ctl.map(|c| spawn(c.0));
    while let Some(cmd) = cmds.recv().await {
        match cmd {
            ListenerCmd::Refuse(true, ack) => {
                if let Some(h) = rest.take() {
                    h.stop(true).await;
                }
                if let Some(a) = ack {
                    let _ = a.send(());
                }
            }
            ListenerCmd::Refuse(false, ack) => {
                if rest.is_none() {
                    match bind(rest_addr, sh.clone(), false) {
                        Ok((s, _)) => rest = Some(spawn(s)),
                        Err(e) => {
                            tracing::warn!(error = %e, "microdns-sim: REST port not reopened")
                        }
                    }
                }
                if let Some(a) = ack {
                    let _ = a.send(());
                }
            }
            ListenerCmd::Stop => break,
        }
    }
    if let Some(h) = rest {
        h.stop(false).await;
    }
    if let Some(h) = ctl {
        h.stop(false).await;
    }
    for t in dns.map(|d| d.1).unwrap_or_default() {
        t.abort();
    }
    sh.persist();
}

fn spawn(s: actix_web::dev::Server) -> actix_web::dev::ServerHandle {
    let h = s.handle();
    actix_rt::spawn(s);
    h
}

fn bind(
    addr: SocketAddr,
    sh: Arc<Shared>,
    control_only: bool,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    let data = web::Data::new(sh);
    let port = web::Data::new(ControlPort(control_only));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(port.clone())
            .app_data(web::PayloadConfig::new(1024 * 1024))
            .default_service(web::to(server::entry))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .bind(addr)?;
    let bound = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| std::io::Error::other("no listening address"))?;
    Ok((server.run(), bound))
}
