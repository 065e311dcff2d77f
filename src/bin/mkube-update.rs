//! `mkube-update`: keeps the site's infrastructure containers on the newest image in the local
//! registry (spec images.md §5): bootstraps mkube, replaces mkube, the registry (from a
//! pre-staged tarball), microdns and itself (through mkube's update API) when a new digest
//! appears, with health checks, rollback and a failure limit.
//!
//! `mkube-update [--config FILE]`; the file defaults to `$MKUBE_UPDATE_CONFIG`, else
//! `/etc/mkube-update/config.yaml`. `mkube-update check-config [--config FILE]` only loads it.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "mkube-update", about = "mkube's self-updater")]
struct Args {
    /// YAML configuration (default: $MKUBE_UPDATE_CONFIG, else /etc/mkube-update/config.yaml).
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Load and check the configuration, print it, and exit.
    CheckConfig,
}

#[actix_rt::main]
async fn main() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    mkube::tls::ensure_ring_provider();
    let args = Args::parse();
    let path = mkube::update::config::path_from(args.config);
    let cfg = match mkube::update::config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mkube-update: {e}");
            std::process::exit(2);
        }
    };
    if let Some(Cmd::CheckConfig) = args.cmd {
        println!("{cfg:#?}");
        return;
    }
    if let Err(e) = mkube::update::run::run(cfg).await {
        eprintln!("mkube-update: {e}");
        std::process::exit(1);
    }
}
