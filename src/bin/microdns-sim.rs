//! `microdns-sim`: a microdns test double (spec microdns-api.md §5): REST API, optional
//! DNS responder, faults and control routes under `/_control/`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use mkube::sim::microdns::{self, MicrodnsSimOptions, MicrodnsVersion};

#[derive(Debug, Parser)]
#[command(name = "microdns-sim", about = "microdns REST/DNS test double")]
struct Args {
    /// REST address (loopback only).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// DNS address (UDP, and TCP on the same port).
    #[arg(long)]
    dns_listen: Option<SocketAddr>,
    /// Separate control-only address (stays up while `refuse` closes the REST port).
    #[arg(long)]
    control_listen: Option<SocketAddr>,
    /// Persist the store here (reloaded on start).
    #[arg(long)]
    state_file: Option<PathBuf>,
    /// Accept any opaque id in paths (not only UUIDs).
    #[arg(long)]
    lenient_ids: bool,
    /// Turn record-create dedup off.
    #[arg(long)]
    no_dedup: bool,
    /// Behaviour: feb2026 or current.
    #[arg(long, default_value = "feb2026")]
    version: MicrodnsVersion,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        tracing::warn!(listen = %args.listen, "microdns-sim is meant for loopback addresses");
    }
    let opts = MicrodnsSimOptions {
        listen: args.listen,
        dns_listen: args.dns_listen,
        state_file: args.state_file,
        lenient_ids: args.lenient_ids,
        dedup: !args.no_dedup,
        version: args.version,
    };
    let sim = microdns::start_with_control(opts, args.control_listen).await?;
    let show = |a: Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
    println!(
        "microdns-sim ready rest={} dns={} control={}",
        sim.endpoint(),
        show(sim.dns_addr()),
        show(sim.control_addr())
    );
    mkube::process::shutdown_requested().await;
    tokio::task::spawn_blocking(move || sim.stop())
        .await
        .map_err(std::io::Error::other)?;
    Ok(())
}
