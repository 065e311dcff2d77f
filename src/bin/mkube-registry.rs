//! `mkube-registry`: mkube's standalone OCI registry (spec images.md §2).
//!
//! `mkube-registry [--config FILE] [--listen ADDR] [--store DIR] [--notify-url URL]
//! [--tls-cert PEM --tls-key PEM]` serves the OCI API (TLS and plain HTTP on one port when
//! the certificate file exists) and a plain management listener (`GET /healthz`, `POST /poll`,
//! `GET /events`). `pullThrough`, `upstreamRegistries`, `watchImages` and `watchPollSeconds`
//! come from the configuration file.
//! `mkube-registry gen-certs --out DIR [--ip IP].. [--dns NAME]..` writes `ca.crt`,
//! `tls.crt` and `tls.key`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use mkube::registry::config::RegistryConfig;
use mkube::registry::upstream::UpstreamOptions;
use mkube::registry::{self, RegistryOptions, certs, listener, mgmt};

#[derive(Debug, Parser)]
#[command(name = "mkube-registry", about = "mkube's OCI registry")]
struct Args {
    /// YAML configuration (default: $REGISTRY_CONFIG, else /etc/registry/config.yaml if present).
    #[arg(long, env = "REGISTRY_CONFIG")]
    config: Option<PathBuf>,
    /// OCI API listen address (overrides listenAddr).
    #[arg(long)]
    listen: Option<String>,
    /// Store root (overrides storePath).
    #[arg(long)]
    store: Option<PathBuf>,
    /// Push webhook URL (overrides notifyURL).
    #[arg(long)]
    notify_url: Option<String>,
    /// Server certificate PEM (overrides tlsCertFile).
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// Server key PEM (overrides tlsKeyFile).
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Management listener (GET /healthz, POST /poll, GET /events).
    #[arg(long, default_value = "0.0.0.0:5001")]
    mgmt_listen: SocketAddr,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Generate a CA and a server certificate (ca.crt, tls.crt, tls.key).
    GenCerts {
        #[arg(long)]
        out: PathBuf,
        /// Extra IP SANs (127.0.0.1 is always included).
        #[arg(long)]
        ip: Vec<IpAddr>,
        /// Extra DNS SANs (registry.gt.lo and localhost are always included).
        #[arg(long)]
        dns: Vec<String>,
        #[arg(long, default_value_t = 3650)]
        days: u32,
    },
}

fn fail(msg: String) -> std::io::Error {
    std::io::Error::other(msg)
}

#[actix_rt::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    mkube::tls::ensure_ring_provider();
    let args = Args::parse();
    if let Some(Cmd::GenCerts { out, ip, dns, days }) = &args.cmd {
        let generated = certs::generate(&certs::CertRequest {
            ips: ip.clone(),
            dns_names: dns.clone(),
            days: *days,
        })
        .map_err(|e| fail(e.to_string()))?;
        certs::write_files(&generated, out)?;
        println!("wrote ca.crt, tls.crt, tls.key to {}", out.display());
        return Ok(());
    }
    let default_path = PathBuf::from("/etc/registry/config.yaml");
    let mut cfg = match &args.config {
        Some(p) => RegistryConfig::load(p).map_err(fail)?,
        None if default_path.exists() => RegistryConfig::load(&default_path).map_err(fail)?,
        None => RegistryConfig::default(),
    };
    if let Some(l) = args.listen {
        cfg.listen_addr = l;
    }
    if let Some(s) = args.store {
        cfg.store_path = s;
    }
    if let Some(u) = args.notify_url {
        cfg.notify_url = u;
    }
    if let Some(c) = args.tls_cert {
        cfg.tls_cert_file = c;
    }
    if let Some(k) = args.tls_key {
        cfg.tls_key_file = k;
    }
    let mut opts = RegistryOptions::new(cfg.store_path.clone());
    opts.listen = cfg.listen().map_err(fail)?;
    opts.notify_url = (!cfg.notify_url.is_empty()).then(|| cfg.notify_url.clone());
    opts.upstream = UpstreamOptions::from_config(&cfg);
    if cfg.upstream_sync_enabled {
        tracing::warn!(
            "upstreamSyncEnabled is not implemented; local pushes are not mirrored upstream"
        );
    }
    let tls = if cfg.tls_cert_file.exists() {
        let t = listener::ReloadableTls::load(listener::TlsFiles {
            cert: cfg.tls_cert_file.clone(),
            key: cfg.tls_key_file.clone(),
        })?;
        t.watch_sighup();
        Some(t)
    } else {
        tracing::warn!(cert = %cfg.tls_cert_file.display(), "no certificate file: serving plain HTTP only");
        None
    };
    let reg = registry::open(&opts)?;
    let (server, addr) = registry::http_server(reg.clone(), opts.listen, num_workers(), tls)?;
    tracing::info!(%addr, store = %cfg.store_path.display(), "mkube-registry listening");
    let (mgmt, mgmt_addr) = mgmt::server(reg.clone(), args.mgmt_listen)?;
    let feed = reg.feed.clone();
    tracing::info!(addr = %mgmt_addr, "management listener up");
    let reaper = actix_rt::spawn(registry::background(reg, opts.reap_interval));
    let handle = server.handle();
    let mgmt_handle = mgmt.handle();
    let srv = actix_rt::spawn(server);
    let mg = actix_rt::spawn(mgmt);
    mkube::process::shutdown_requested().await;
    tracing::info!("shutting down");
    feed.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), mgmt_handle.stop(true)).await;
    handle.stop(true).await;
    reaper.abort();
    let _ = srv.await;
    let _ = mg.await;
    Ok(())
}

fn num_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
}
