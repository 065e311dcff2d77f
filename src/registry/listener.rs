//! TLS and plain HTTP on one port (spec images.md §2.6).
//!
//! Every accepted connection is sniffed: a first byte of `0x16` (a TLS handshake record) goes
//! through a rustls handshake, anything else is served as plain HTTP/1.1. ALPN offers only
//! `http/1.1` (HTTP/2 is deliberately off, see the spec). The certificate and key are reloaded
//! on SIGHUP ([`ReloadableTls::watch_sighup`]) or explicitly ([`ReloadableTls::reload`]);
//! connections already established keep the configuration they were accepted with.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, RwLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::{HttpService, Request, Response};
use actix_rt::net::TcpStream;
use actix_service::{
    IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt as _, fn_factory, fn_service,
    map_config,
};
use actix_web::dev::{AppConfig, Server};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take to send its first byte, and then to finish a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Where the server certificate chain and its private key live (PEM).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A rustls server configuration that can be swapped at run time. Cloning shares the
/// configuration: a clone handed to [`serve`] sees reloads done through any other clone.
#[derive(Clone)]
pub struct ReloadableTls {
    inner: Arc<TlsInner>,
}

struct TlsInner {
    files: TlsFiles,
    config: RwLock<Arc<ServerConfig>>,
}

impl fmt::Debug for ReloadableTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadableTls")
            .field("files", &self.inner.files)
            .finish_non_exhaustive()
    }
}

impl ReloadableTls {
    /// Loads the certificate chain and key; errors (missing file, no certificate, unusable or
    /// mismatched key) are reported as `InvalidData`/`NotFound` with the path in the message.
    pub fn load(files: TlsFiles) -> io::Result<ReloadableTls> {
        let config = load_config(&files)?;
        Ok(ReloadableTls {
            inner: Arc::new(TlsInner {
                files,
                config: RwLock::new(Arc::new(config)),
            }),
        })
    }

    /// Re-reads the files. On error the previous configuration stays in use.
    pub fn reload(&self) -> io::Result<()> {
        let config = load_config(&self.inner.files)?;
        *self.inner.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        tracing::info!(cert = %self.inner.files.cert.display(), "registry TLS certificate reloaded");
        Ok(())
    }

    /// Reloads on every SIGHUP to this process, from a background thread. The handler is
    /// installed before this returns (so a SIGHUP right after no longer kills the process). The
    /// thread ends at the first SIGHUP after every clone of `self` has been dropped.
    pub fn watch_sighup(&self) {
        let weak: Weak<TlsInner> = Arc::downgrade(&self.inner);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        let spawned = std::thread::Builder::new()
            .name("registry-sighup".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    use tokio::signal::unix::{SignalKind, signal};
                    let mut hup = match signal(SignalKind::hangup()) {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    while hup.recv().await.is_some() {
                        let Some(inner) = weak.upgrade() else { break };
                        let tls = ReloadableTls { inner };
                        if let Err(e) = tls.reload() {
                            tracing::warn!(error = %e, "SIGHUP: registry TLS reload failed; keeping the old certificate");
                        }
                    }
                });
            });
        let outcome = match spawned {
            Ok(_) => ready_rx
                .recv()
                .unwrap_or_else(|_| Err(io::Error::other("SIGHUP watcher thread died"))),
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "cannot watch SIGHUP; registry TLS reload only by restart");
        }
    }

    /// The configuration new connections are accepted with.
    fn current(&self) -> Arc<ServerConfig> {
        self.inner
            .config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn load_config(files: &TlsFiles) -> io::Result<ServerConfig> {
    let invalid = |what: &PathBuf, e: &dyn fmt::Display| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", what.display()),
        )
    };
    let cert_pem = std::fs::read(&files.cert)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", files.cert.display())))?;
    let key_pem = std::fs::read(&files.key)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", files.key.display())))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&files.cert, &e))?;
    if chain.is_empty() {
        return Err(invalid(&files.cert, &"no CERTIFICATE block"));
    }
    // Accepts SEC1 (`EC PRIVATE KEY`), PKCS#8 and PKCS#1.
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| invalid(&files.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(format!("tls: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid(&files.key, &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Server-level settings for [`serve_with`].
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Worker threads; 0 = actix's default (available parallelism).
    pub workers: usize,
    /// Leave SIGINT/SIGTERM/SIGQUIT alone (the embedding process handles them).
    pub disable_signals: bool,
    /// Seconds to let open connections finish on a graceful stop.
    pub shutdown_timeout: u64,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            workers: 0,
            disable_signals: false,
            shutdown_timeout: 30,
        }
    }
}

/// Serve an actix-web app factory on `listener`, plain HTTP, and TLS too when `tls` is Some.
/// Usable like `HttpServer::new`: `serve(listener, tls, move || App::new().route(..))`. The
/// returned server runs on the current actix system; await it or keep its handle.
pub fn serve<F, I, S, B>(
    listener: std::net::TcpListener,
    tls: Option<ReloadableTls>,
    factory: F,
) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    B: MessageBody + 'static,
{
    serve_with(listener, tls, ServeOptions::default(), factory)
}

/// [`serve`] with explicit worker count, signal handling and shutdown timeout.
pub fn serve_with<F, I, S, B>(
    listener: std::net::TcpListener,
    tls: Option<ReloadableTls>,
    options: ServeOptions,
    factory: F,
) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let mut builder = Server::build().shutdown_timeout(options.shutdown_timeout);
    if options.workers > 0 {
        builder = builder.workers(options.workers);
    }
    if options.disable_signals {
        builder = builder.disable_signals();
    }
    let host = addr.to_string();
    // A graceful stop tells every connection, so idle keep-alive ones close at once instead of
    // holding the process until the shutdown timeout (what actix-web's HttpServer wires up).
    let stopping = builder.graceful_shutdown_signal();
    let server = builder.listen("mkube-registry", listener, move || {
        let factory = factory.clone();
        let tls = tls.clone();
        let host = host.clone();
        let stopping = stopping.clone();
        fn_factory(move || {
            let make_http = |secure: bool| {
                let app = factory()
                    .into_factory()
                    .map_err(|err| err.into().error_response());
                let stopping = stopping.clone();
                let builder = HttpService::<Conn, _, _>::build()
                    .graceful_shutdown_signal(move || {
                        let stopping = stopping.clone();
                        async move { stopping.notified().await }
                    })
                    .local_addr(addr)
                    // HttpServer's defaults (the builder's own disconnect timeout is zero).
                    .keep_alive(actix_http::KeepAlive::default())
                    .client_request_timeout(Duration::from_secs(5))
                    .client_disconnect_timeout(Duration::from_secs(1));
                let builder = if secure { builder.secure() } else { builder };
                // What HttpServer builds for each listener (scheme, host, local addr). This
                // constructor is semver-exempt in actix-web; Cargo.lock pins the version.
                let host = host.clone();
                builder.finish(map_config(app, move |_| {
                    AppConfig::__priv_test_new(secure, host.clone(), addr)
                }))
            };
            let plain = make_http(false);
            let secure = tls.as_ref().map(|_| make_http(true));
            let tls = tls.clone();
            async move {
                let plain = Rc::new(plain.new_service(()).await.map_err(|e| {
                    tracing::error!(error = ?e, "registry: cannot start HTTP service");
                })?);
                let secure = match secure {
                    Some(s) => Some(Rc::new(s.new_service(()).await.map_err(|e| {
                        tracing::error!(error = ?e, "registry: cannot start HTTPS service");
                    })?)),
                    None => None,
                };
                Ok::<_, ()>(fn_service(move |stream: TcpStream| {
                    let plain = plain.clone();
                    let secure = secure.clone();
                    let tls = tls.clone();
                    async move {
                        let peer = stream.peer_addr().ok();
                        let conn = match accept(stream, tls.as_ref()).await {
                            Some(conn) => conn,
                            None => return Ok(()),
                        };
                        let service = match (&conn, secure) {
                            (Conn::Tls(_), Some(s)) => s,
                            _ => plain,
                        };
                        service
                            .call((conn, actix_http::Protocol::Http1, peer))
                            .await
                            .map_err(|e| {
                                tracing::debug!(error = %e, "registry connection error");
                            })
                    }
                }))
            }
        })
    })?;
    Ok(server.run())
}

/// Sniffs the first byte and, for TLS, performs the handshake. `None`: the connection is gone
/// or unusable (logged at debug level).
async fn accept(stream: TcpStream, tls: Option<&ReloadableTls>) -> Option<Conn> {
    let Some(tls) = tls else {
        return Some(Conn::Plain(stream));
    };
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
        Ok(Ok(0)) => return None,
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "registry: peek failed");
            return None;
        }
        Err(_) => {
            tracing::debug!("registry: client sent nothing; closing");
            return None;
        }
    }
    if first[0] != TLS_HANDSHAKE {
        return Some(Conn::Plain(stream));
    }
    let acceptor = TlsAcceptor::from(tls.current());
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(s)) => Some(Conn::Tls(Box::new(s))),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "registry: TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("registry: TLS handshake timed out");
            None
        }
    }
}

/// One accepted connection, plain or TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
