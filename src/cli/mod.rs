//! Command-line interface: `run`, `replay`, `export`, `import`, `events`, `dns`, `version`.

mod dns;
mod log_tools;
mod print;
mod run;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "mkube",
    about = "Kubernetes-style pods on MikroTik RouterOS 7",
    version
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "MKUBE_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the controller.
    Run(run::RunArgs),
    /// Print the events of a log and the state each actor would hold at the end.
    Replay(log_tools::ReplayArgs),
    /// Write a log to a portable file.
    Export(log_tools::ExportArgs),
    /// Load a portable log file into an empty stream.
    Import(log_tools::ImportArgs),
    /// Print live events as they are appended.
    Events(log_tools::EventsArgs),
    /// microdns tools: backup and zone-file import.
    Dns(dns::DnsArgs),
    /// Print the version.
    Version,
}

/// Where to read a log from NATS.
#[derive(Args, Clone)]
pub struct NatsSource {
    /// NATS server URL.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    pub nats: String,
    /// Stream name.
    #[arg(long, default_value = "MKUBE_EVENTS")]
    pub stream: String,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

/// The controller logs at `info`; the log tools only warn, so their stdout stays the output.
/// `RUST_LOG` overrides both.
pub fn init_tracing(format: LogFormat, command: &Command) {
    let default = if matches!(command, Command::Run(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

pub async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(args) => run::run(args).await,
        Command::Replay(args) => log_tools::replay(args).await,
        Command::Export(args) => log_tools::export(args).await,
        Command::Import(args) => log_tools::import(args).await,
        Command::Events(args) => log_tools::events(args).await,
        Command::Dns(args) => dns::run(args).await,
        Command::Version => {
            println!("mkube {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    }
}
