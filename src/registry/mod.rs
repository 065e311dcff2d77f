//! `mkube-registry`: mkube's standalone OCI distribution registry (spec images.md §2).
//!
//! [`start`] runs the HTTP server on its own thread (an actix system) so it can be used
//! from any tokio runtime, like the RouterOS simulator. The modules form layers, each using
//! only those below it:
//! - core: [`names`] (names, tags, digests), [`error`] (the OCI error answer), [`store`]
//!   (files, locks, manifest commits), [`uploads`] (sessions), [`notify`] (webhook, push
//!   hook) and [`feed`] (SSE events); manifest media types are [`crate::oci::manifest`]'s;
//! - upstream work on the store: [`upstream`], [`pull_through`], [`watcher`];
//! - [`state`]: the [`Registry`] shared by the listeners;
//! - the listeners: [`routes`] (the `/v2` endpoints, one file per route group) and [`mgmt`];
//! - this module: options, [`open`], [`start`] and the background tasks.
//!
//! TLS+plain sniffing on one port ([`listener`]), certificate generation ([`certs`]) and
//! push notifications ([`notify`]) are plugged in through [`RegistryOptions::tls`] and
//! [`RegistryOptions::notify_url`]. Pull-through ([`pull_through`]) and the watcher
//! ([`watcher`]) use [`upstream`] and are set by [`RegistryOptions::upstream`]; the management
//! listener ([`mgmt`]: health, `POST /poll`, the SSE stream fed by [`feed`]) by
//! [`RegistryOptions::mgmt_listen`].

pub mod certs;
pub mod config;
pub mod error;
pub mod feed;
pub mod listener;
pub mod mgmt;
pub mod names;
pub mod notify;
pub mod pull_through;
pub mod routes;
pub mod state;
pub mod store;
pub mod uploads;
pub mod upstream;
pub mod watcher;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, web};

pub use names::Digest;
pub use notify::PushHook;
pub use state::Registry;
pub use uploads::Clock;

#[derive(Clone)]
pub struct RegistryOptions {
    pub listen: SocketAddr,
    pub store: PathBuf,
    /// Sessions with no byte received for this long are reaped (spec: 1 h).
    pub session_idle: Duration,
    /// How often the reaper runs (spec: 10 min).
    pub reap_interval: Duration,
    pub clock: Clock,
    /// Manifest DELETE allowed (else 405 UNSUPPORTED).
    pub delete_enabled: bool,
    /// Enables `/v2/_test/panic` (tests only).
    pub test_hooks: bool,
    pub on_push: Option<PushHook>,
    /// Webhook for push events (§2.8); `None` = no webhook.
    pub notify_url: Option<String>,
    /// Serve TLS and plain HTTP on one port with this certificate and key.
    pub tls: Option<listener::TlsFiles>,
    pub workers: usize,
    /// Pull-through and watcher (§2.7).
    pub upstream: upstream::UpstreamOptions,
    /// Management listener (§2.1); `None` = not started.
    pub mgmt_listen: Option<SocketAddr>,
}

impl RegistryOptions {
    pub fn new(store: PathBuf) -> Self {
        RegistryOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            store,
            session_idle: Duration::from_secs(3600),
            reap_interval: Duration::from_secs(600),
            clock: uploads::system_clock(),
            delete_enabled: true,
            test_hooks: false,
            on_push: None,
            notify_url: None,
            tls: None,
            workers: 4,
            upstream: upstream::UpstreamOptions::default(),
            mgmt_listen: None,
        }
    }
}

pub struct RunningRegistry {
    addr: SocketAddr,
    mgmt_addr: Option<SocketAddr>,
    tls: bool,
    handle: actix_web::dev::ServerHandle,
    mgmt_handle: Option<actix_web::dev::ServerHandle>,
    thread: Option<std::thread::JoinHandle<()>>,
    registry: Arc<Registry>,
}

impl RunningRegistry {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>` (plain HTTP is served even when TLS is configured).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Address of the management listener, when one was asked for.
    pub fn mgmt_addr(&self) -> Option<SocketAddr> {
        self.mgmt_addr
    }

    /// `http://<mgmt addr>`, when the management listener runs.
    pub fn mgmt_url(&self) -> Option<String> {
        self.mgmt_addr.map(|a| format!("http://{a}"))
    }

    /// Watcher cycles completed (0 without a watcher).
    pub fn watcher_cycles(&self) -> u64 {
        self.registry.watcher.as_ref().map_or(0, |w| w.cycles())
    }

    /// Current `GET /events` subscribers.
    pub fn event_subscribers(&self) -> usize {
        self.registry.feed.subscribers()
    }

    /// `https://<addr>` when TLS is configured.
    pub fn tls_url(&self) -> Option<String> {
        self.tls.then(|| format!("https://{}", self.addr))
    }

    /// `<ip>:<port>` as written in image references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Runs one reaper pass now; returns how many sessions were reaped.
    pub fn reap_idle_sessions(&self) -> usize {
        self.registry.uploads.reap_idle()
    }

    /// Number of open upload sessions.
    pub fn open_sessions(&self) -> usize {
        self.registry.uploads.len()
    }

    /// Stops the server and waits for its thread to end.
    pub async fn stop(mut self) {
        self.registry.feed.close();
        if let Some(m) = self.mgmt_handle.take() {
            m.stop(false).await;
        }
        self.handle.stop(false).await;
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// Opens the store (clearing `tmp/`, dropping stale sessions) and builds the state.
pub fn open(opts: &RegistryOptions) -> std::io::Result<Arc<Registry>> {
    let store = store::Store::open(&opts.store)?;
    match store.import_legacy() {
        Ok(0) => {}
        Ok(n) => tracing::info!(files = n, "legacy manifests imported"),
        Err(e) => tracing::warn!(error = %e, "legacy manifest import failed"),
    }
    let uploads = uploads::Uploads::load(&store, opts.clock.clone(), opts.session_idle)?;
    let notifier = opts
        .notify_url
        .as_ref()
        .filter(|u| !u.is_empty())
        .map(|u| notify::Notifier::new(u.clone()));
    let user_hook = opts.on_push.clone();
    let feed = feed::PushFeed::new();
    let feed2 = feed.clone();
    // One path for every push event (manifest PUTs and watcher changes): webhook, SSE, hook.
    let on_push: PushHook = Arc::new(move |repo: &str, reference: &str, d: &Digest| {
        let event = notify::PushEvent {
            repository: repo.to_string(),
            tag: reference.to_string(),
            digest: d.to_string(),
        };
        feed2.publish(&event);
        if let Some(n) = &notifier {
            n.tag_pushed(event);
        }
        if let Some(h) = &user_hook {
            h(repo, reference, d);
        }
    });
    let up = &opts.upstream;
    let client =
        Arc::new(upstream::Upstream::new().map_err(|e| std::io::Error::other(e.to_string()))?);
    let pull_through = up
        .pull_through
        .then(|| pull_through::PullThrough::new(client.clone(), up));
    let watcher = watcher::Watcher::new(client.clone(), up).map(Arc::new);
    Ok(Arc::new(Registry {
        store: Arc::new(store),
        uploads,
        delete_enabled: opts.delete_enabled,
        test_hooks: opts.test_hooks,
        on_push: Some(on_push),
        upstream: client,
        pull_through,
        watcher,
        feed,
    }))
}

/// The actix-web server for `registry` bound to `listen`: plain HTTP, or TLS and plain
/// HTTP on the same port when `tls` is given.
pub fn http_server(
    registry: Arc<Registry>,
    listen: SocketAddr,
    workers: usize,
    tls: Option<listener::ReloadableTls>,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    let data = web::Data::new(registry);
    if let Some(tls) = tls {
        let l = std::net::TcpListener::bind(listen)?;
        let addr = l.local_addr()?;
        tls.watch_sighup();
        let options = listener::ServeOptions {
            workers: workers.max(1),
            disable_signals: true,
            shutdown_timeout: 5,
        };
        let server = listener::serve_with(l, Some(tls), options, move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(routes::entry))
        })?;
        return Ok((server, addr));
    }
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(routes::entry))
    })
    .workers(workers.max(1))
    .disable_signals()
    .shutdown_timeout(5)
    .bind(listen)?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| std::io::Error::other("no listening address"))?;
    Ok((server.run(), addr))
}

/// Reaps idle sessions every `interval` for as long as the runtime lives.
pub async fn reaper(registry: Arc<Registry>, interval: Duration) {
    let mut t = tokio::time::interval(interval);
    t.tick().await;
    loop {
        t.tick().await;
        let n = registry.uploads.reap_idle();
        if n > 0 {
            tracing::info!(reaped = n, "idle upload sessions reaped");
        }
    }
}

/// The registry's background work: the session reaper and, when configured, the watcher.
/// Runs until dropped (abort its task at shutdown).
pub async fn background(registry: Arc<Registry>, reap_interval: Duration) {
    let watch = async {
        match registry.watcher.clone() {
            Some(w) => {
                w.run(registry.store.clone(), registry.on_push.clone())
                    .await
            }
            None => std::future::pending().await,
        }
    };
    futures::join!(reaper(registry.clone(), reap_interval), watch);
}

struct Listening {
    addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    mgmt: Option<(SocketAddr, actix_web::dev::ServerHandle)>,
}

type Ready = std::io::Result<Listening>;

/// Starts the registry on its own thread; returns once it is listening.
pub async fn start(opts: RegistryOptions) -> std::io::Result<RunningRegistry> {
    crate::tls::ensure_ring_provider();
    let registry = open(&opts)?;
    let tls = match &opts.tls {
        Some(files) => Some(listener::ReloadableTls::load(files.clone())?),
        None => None,
    };
    let has_tls = tls.is_some();
    let reg2 = registry.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<Ready>();
    let thread = std::thread::Builder::new()
        .name("mkube-registry".into())
        .spawn(move || {
            let sys = actix_rt::System::new();
            sys.block_on(async move {
                let (srv, addr) = match http_server(reg2.clone(), opts.listen, opts.workers, tls) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let mgmt = match opts.mgmt_listen.map(|l| mgmt::server(reg2.clone(), l)) {
                    None => None,
                    Some(Ok(m)) => Some(m),
                    Some(Err(e)) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let _ = tx.send(Ok(Listening {
                    addr,
                    handle: srv.handle(),
                    mgmt: mgmt.as_ref().map(|(m, a)| (*a, m.handle())),
                }));
                let mgmt_handle = mgmt.as_ref().map(|(m, _)| m.handle());
                let mgmt_task = mgmt.map(|(m, _)| actix_rt::spawn(m));
                let work = actix_rt::spawn(background(reg2, opts.reap_interval));
                let _ = srv.await;
                work.abort();
                if let (Some(h), Some(t)) = (mgmt_handle, mgmt_task) {
                    h.stop(false).await;
                    let _ = t.await;
                }
            });
        })?;
    let ready = rx
        .await
        .map_err(|_| std::io::Error::other("registry thread ended before listening"))??;
    let addr = ready.addr;
    tracing::info!(%addr, mgmt = ?ready.mgmt.as_ref().map(|m| m.0), "mkube-registry listening");
    Ok(RunningRegistry {
        addr,
        mgmt_addr: ready.mgmt.as_ref().map(|m| m.0),
        tls: has_tls,
        handle: ready.handle,
        mgmt_handle: ready.mgmt.map(|m| m.1),
        thread: Some(thread),
        registry,
    })
}
