//! `mkube-soak`: the chaos soak (issue 17). Starts NATS, routeros-sim, microdns-sim,
//! mkube-registry and mkube on loopback, writes through the API while a seeded schedule
//! injects faults, waits for convergence and prints one summary line; exits non-zero when a
//! write was lost, a container duplicated, an object leaked or the site did not converge.
//! `scripts/soak` builds the binaries and runs it.

use clap::Parser;
use mkube::soak::{self, Options};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "mkube-soak", about = "mkube's chaos soak on loopback")]
struct Args {
    /// Length of the fault phase, in minutes.
    #[arg(long, default_value_t = 2.0)]
    minutes: f64,
    /// Seeds the fault schedule and the workload.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many pods the workload keeps writing.
    #[arg(long, default_value_t = 10)]
    pods: usize,
    /// The site's directory (default: a new one under the system's temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the directory (logs, stores) after the run.
    #[arg(long)]
    keep: bool,
    /// Seconds to wait for convergence once the faults stop.
    #[arg(long, default_value_t = 180)]
    converge_seconds: u64,
    /// Writes per second through the API (each waits for its answer).
    #[arg(long, default_value_t = 2.0)]
    writes_per_second: f64,
    /// Faults injected per minute, on average; faults of different parts of the site overlap.
    #[arg(long, default_value_t = 3.0)]
    faults_per_minute: f64,
    /// Never kill mkube, so one process lives through every fault (a leak check of its RSS
    /// and descriptors).
    #[arg(long)]
    spare_mkube: bool,
    /// Print the fault schedule for the seed and exit.
    #[arg(long)]
    plan: bool,
    /// The script that writes the tiny image's OCI layout.
    #[arg(long, default_value = "scripts/make-demo-image.py")]
    image_script: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("mkube-soak-{}-{}", args.seed, std::process::id()))
    });
    let bins = match soak::processes::bins_dir() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("soak: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let opts = Options {
        minutes: args.minutes,
        seed: args.seed,
        pods: args.pods.max(1),
        dir: dir.clone(),
        bins,
        image_script: args.image_script,
        converge_seconds: args.converge_seconds,
        writes_per_second: args.writes_per_second,
        faults_per_minute: args.faults_per_minute,
        spare_mkube: args.spare_mkube,
    };
    if args.plan {
        for f in soak::faults::schedule(soak::run::plan(&opts)) {
            println!("t={:.0}s {} for {:.0} s", f.at, f.kind.describe(), f.lasts);
        }
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("soak: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(soak::run(&opts));
    if args.keep {
        println!("soak: kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    match result {
        Ok(outcome) => {
            for line in outcome.details() {
                println!("{line}");
            }
            println!("{}", outcome.line());
            if outcome.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("soak: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
