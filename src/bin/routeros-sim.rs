//! `routeros-sim`: a RouterOS 7 REST device simulator (spec routeros-rest.md §5).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use mkube::sim::routeros::{self, Profile, SimOptions};

#[derive(Debug, Parser)]
#[command(
    name = "routeros-sim",
    about = "Simulated RouterOS 7 device (REST API)"
)]
struct Args {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Host directory holding the device's disks.
    #[arg(long)]
    disk_root: PathBuf,
    /// Persist tables, ids and knobs here.
    #[arg(long)]
    state_file: Option<PathBuf>,
    /// Version profile: 7.19, 7.21, 7.22, 7.23.
    #[arg(long, default_value = "7.22")]
    profile: Profile,
    #[arg(long, default_value = "admin")]
    user: String,
    #[arg(long, default_value = "")]
    password: String,
    /// Fixed latency per /rest request.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// One request at a time.
    #[arg(long)]
    serial: bool,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Run started containers as real processes, each in its own mount and UTS namespace with
    /// its root-dir as `/` (needs root; refused where the machine does not allow it).
    #[arg(long)]
    run_containers: bool,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        tracing::warn!(listen = %args.listen, "routeros-sim is meant for loopback addresses");
    }
    let mut opts = SimOptions::new(args.disk_root);
    opts.listen = args.listen;
    opts.state_file = args.state_file;
    opts.profile = args.profile;
    opts.user = args.user;
    opts.password = args.password;
    opts.latency = Duration::from_millis(args.latency_ms);
    opts.serial = args.serial;
    opts.run_containers = args.run_containers;
    if let (Some(c), Some(k)) = (args.tls_cert, args.tls_key) {
        opts.tls = Some((std::fs::read(c)?, std::fs::read(k)?));
    }
    let sim = match routeros::start(opts).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("routeros-sim: {e}");
            std::process::exit(1);
        }
    };
    tracing::info!(rest = %sim.rest_url(), control = %sim.control_url(), "routeros-sim ready");
    mkube::process::shutdown_requested().await;
    tracing::info!("routeros-sim stopping");
    sim.stop().await;
    Ok(())
}
