//! `mkube dns backup` (R16) and `mkube dns import` (BIND zone file → microdns records).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use mkube::config::{self, Config};
use mkube::microdns::{self, MicrodnsClient, Record, zonefile};

#[derive(Args)]
pub struct DnsArgs {
    #[command(subcommand)]
    command: DnsCommand,
}

#[derive(Subcommand)]
enum DnsCommand {
    /// Write every zone and record of each network's microdns to `<out>/<network>.json`.
    Backup(BackupArgs),
    /// Create the records of a BIND zone file that the zone does not hold yet.
    Import(ImportArgs),
}

#[derive(Args)]
struct BackupArgs {
    /// Configuration file (YAML).
    #[arg(long, default_value = config::DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    /// Directory for the backup files (created when missing).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct ImportArgs {
    /// Configuration file (YAML).
    #[arg(long, default_value = config::DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    /// The zone to import into: some network's `dns.zone`.
    #[arg(long)]
    zone: String,
    /// Zone file in BIND format.
    file: PathBuf,
}

pub async fn run(args: DnsArgs) -> anyhow::Result<()> {
    match args.command {
        DnsCommand::Backup(a) => backup(a).await,
        DnsCommand::Import(a) => import(a).await,
    }
}

fn load_config(path: &Path) -> anyhow::Result<Config> {
    let loaded = config::load(path)?;
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    Ok(loaded.config)
}

async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let cfg = load_config(&args.config)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let client = MicrodnsClient::new()?.with_api_keys(cfg.microdns_api_keys());
    let mut failed = Vec::new();
    let mut any = false;
    for net in cfg.networks.iter().filter(|n| !n.dns.endpoint.is_empty()) {
        any = true;
        let endpoint = &net.dns.endpoint;
        match microdns::backup_endpoint(&client, &net.name, endpoint).await {
            Ok(b) => {
                let path = args.out.join(format!("{}.json", net.name));
                let json = serde_json::to_vec_pretty(&b)?;
                write_atomic(&path, &json)?;
                let records: usize = b.zones.iter().map(|z| z.records.len()).sum();
                println!(
                    "{}: {} zones, {records} records -> {}",
                    net.name,
                    b.zones.len(),
                    path.display()
                );
            }
            Err(e) => {
                eprintln!("{}: {e}", net.name);
                failed.push(format!("{} ({endpoint})", net.name));
            }
        }
    }
    if !any {
        bail!("no network in {} has dns.endpoint", args.config.display());
    }
    if !failed.is_empty() {
        bail!("backup failed for {}", failed.join(", "));
    }
    Ok(())
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let cfg = load_config(&args.config)?;
    let zone = args.zone.trim_end_matches('.');
    let net = cfg
        .networks
        .iter()
        .find(|n| n.dns.zone.trim_end_matches('.') == zone)
        .with_context(|| {
            format!(
                "no network in {} has dns.zone {zone}",
                args.config.display()
            )
        })?;
    if net.dns.endpoint.is_empty() {
        bail!("network {} (zone {zone}) has no dns.endpoint", net.name);
    }
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let parsed = zonefile::parse(&text, zone)
        .with_context(|| format!("{}: not a valid zone file", args.file.display()))?;
    for (line, why) in &parsed.skipped {
        println!("skipped line {line}: {why}");
    }

    let endpoint = &net.dns.endpoint;
    let client = MicrodnsClient::new()?.with_api_keys(cfg.microdns_api_keys());
    let zone_id = client.ensure_zone(endpoint, zone).await?;
    let mut existing: Vec<Record> = client.list_records(endpoint, &zone_id).await?;
    let (mut created, mut present, mut failed) = (0, 0, 0);
    for e in parsed.records {
        let shown = format!("{} {} {}", e.name, e.data.rtype, show(&e.data.data));
        let same =
            |r: &Record| r.name == e.name && r.kind() == e.data.rtype && r.data.data == e.data.data;
        if existing.iter().any(same) {
            println!("exists  {shown}");
            present += 1;
            continue;
        }
        match client
            .create_record(endpoint, &zone_id, &e.name, e.ttl, e.data.clone())
            .await
        {
            Ok((rec, new)) => {
                println!("{}  {shown}", if new { "created" } else { "exists " });
                if new {
                    created += 1;
                } else {
                    present += 1;
                }
                existing.push(rec);
            }
            Err(err) if err.is_transport() => return Err(err.into()),
            Err(err) => {
                eprintln!("line {}: {shown}: {err}", e.line);
                failed += 1;
            }
        }
    }
    println!(
        "{created} created, {present} already present, {} skipped",
        parsed.skipped.len()
    );
    if failed > 0 {
        bail!("{failed} record(s) could not be created");
    }
    Ok(())
}

fn show(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Writes through a temporary file and a rename, so a failed run never leaves half a backup.
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}
