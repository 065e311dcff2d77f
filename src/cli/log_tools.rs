//! `replay`, `export`, `import`, `events`: reading and moving the log, for debugging.

use super::print::Printer;
use super::{Format, NatsSource};
use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use clap::Args;
use futures::StreamExt;
use mkube::actors::Fold;
use mkube::events::export::{ExportWriter, read_file};
use mkube::events::log::{EventLog, LogError, LogSettings};
use mkube::events::{Area, Record, subject};
use mkube::metrics::Metrics;
use std::path::PathBuf;

#[derive(Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    source: NatsSource,
    /// Read an exported log file instead of NATS.
    #[arg(long, conflicts_with = "nats")]
    file: Option<PathBuf>,
    #[command(flatten)]
    filter: Filter,
    /// Stop after this stream sequence.
    #[arg(long)]
    until_seq: Option<u64>,
    /// Stop before the first event stored after this time (RFC 3339).
    #[arg(long)]
    until_time: Option<DateTime<Utc>>,
    /// Print only the events, not the state.
    #[arg(long)]
    no_state: bool,
}

#[derive(Args, Clone)]
pub struct Filter {
    /// Output format: table for people, json for one object per line.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Print only events of these areas (repeatable).
    #[arg(long)]
    area: Vec<Area>,
    /// Print only events whose subject matches this NATS filter (`*` and `>` allowed).
    #[arg(long)]
    subject: Option<String>,
}

impl Filter {
    fn shows(&self, record: &Record) -> bool {
        let area_ok = self.area.is_empty()
            || self
                .area
                .iter()
                .any(|a| record.subject.split('.').nth(2) == Some(a.as_str()));
        let subject_ok = self
            .subject
            .as_deref()
            .is_none_or(|f| subject::matches(f, &record.subject));
        area_ok && subject_ok
    }
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    source: NatsSource,
    /// File to write.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub struct ImportArgs {
    /// Exported log file.
    file: PathBuf,
    #[command(flatten)]
    source: NatsSource,
}

#[derive(Args)]
pub struct EventsArgs {
    #[command(flatten)]
    source: NatsSource,
    /// Keep printing new events as they are appended.
    #[arg(long)]
    follow: bool,
    /// Start at this sequence (default: only new events with --follow, all without).
    #[arg(long)]
    from_seq: Option<u64>,
    #[command(flatten)]
    filter: Filter,
}

/// Connects for reading; the node is not needed to read a stream by name.
async fn open(source: &NatsSource) -> anyhow::Result<EventLog> {
    let settings = LogSettings {
        url: source.nats.clone(),
        stream: source.stream.clone(),
        node: String::new(),
        replicas: 1,
    };
    let log = EventLog::connect_reader(settings, Metrics::new()).await?;
    let deadline = std::time::Duration::from_secs(10);
    tokio::time::timeout(deadline, async {
        while !log.is_connected() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .with_context(|| format!("NATS at {} did not answer within 10 s", source.nats))?;
    Ok(log)
}

pub async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let until_seq = args.until_seq.unwrap_or(u64::MAX);
    let records: std::pin::Pin<Box<dyn futures::Stream<Item = Result<Record, LogError>>>> =
        match &args.file {
            Some(path) => {
                let (_, records) = read_file(path)?;
                Box::pin(futures::stream::iter(records.into_iter().map(Ok)))
            }
            None => Box::pin(open(&args.source).await?.read(1, until_seq).await?),
        };
    let mut printer = Printer::new(args.filter.format, false);
    let mut fold = Fold::default();
    futures::pin_mut!(records);
    while let Some(record) = records.next().await {
        let record = record?;
        let past_time = args.until_time.is_some_and(|t| record.stored > t);
        if record.seq > until_seq || past_time {
            break;
        }
        let decoded = fold.record(&record);
        if args.filter.shows(&record) {
            printer.event(&record, &decoded);
        }
    }
    if !args.no_state {
        printer.state(&fold);
    }
    Ok(())
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let log = open(&args.source).await?;
    let last = log.last_sequence().await?;
    let mut writer = ExportWriter::create(&args.out, &args.source.stream)?;
    let records = log.read(1, last).await?;
    futures::pin_mut!(records);
    while let Some(record) = records.next().await {
        writer.write(&record?)?;
    }
    let count = writer.finish()?;
    eprintln!(
        "exported {count} events (up to sequence {last}) to {}",
        args.out.display()
    );
    Ok(())
}

pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let (header, records) = read_file(&args.file)?;
    let Some(first) = records.first() else {
        bail!("{} holds no events", args.file.display());
    };
    // The stream must cover the node the records were written by.
    let node_token = first.subject.split('.').nth(1).unwrap_or_default();
    let node = subject::unescape_token(node_token).unwrap_or_default();
    let settings = LogSettings {
        url: args.source.nats.clone(),
        stream: args.source.stream.clone(),
        node,
        replicas: 1,
    };
    let log = EventLog::connect(settings, Metrics::new()).await?;
    log.ensure_stream().await?;
    let existing = log.last_sequence().await?;
    if existing > 0 {
        bail!(
            "stream {} already holds events (last sequence {existing}); import into an empty stream (--stream NAME)",
            args.source.stream
        );
    }
    let js = log.jetstream();
    let mut pending = futures::stream::FuturesOrdered::new();
    let mut stored = 0u64;
    for record in &records {
        let ack = js
            .publish(record.subject.clone(), record.data.clone())
            .await
            .with_context(|| format!("publishing record {}", record.seq))?;
        pending.push_back(ack.into_future());
        if pending.len() >= 256 {
            pending.next().await.transpose()?;
            stored += 1;
        }
    }
    while let Some(ack) = pending.next().await {
        ack?;
        stored += 1;
    }
    eprintln!(
        "imported {stored} events from {} (exported from stream {} at {})",
        args.file.display(),
        header.stream,
        header.exported_at
    );
    Ok(())
}

pub async fn events(args: EventsArgs) -> anyhow::Result<()> {
    let log = open(&args.source).await?;
    let mut printer = Printer::new(args.filter.format, args.follow);
    let last = log.last_sequence().await?;
    let from = args
        .from_seq
        .unwrap_or(if args.follow { last + 1 } else { 1 });
    let mut fold = Fold::default();
    let mut show = |record: &Record| {
        if args.filter.shows(record) {
            let decoded = fold.record(record);
            printer.event(record, &decoded);
        }
    };
    if args.follow {
        let records = log.follow(from);
        futures::pin_mut!(records);
        while let Some(record) = records.next().await {
            show(&record);
        }
    } else {
        let records = log.read(from, last).await?;
        futures::pin_mut!(records);
        while let Some(record) = records.next().await {
            show(&record?);
        }
    }
    Ok(())
}
