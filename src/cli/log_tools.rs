//! `replay`, `export`, `import`, `events`: reading and moving the log, for debugging. A stream
//! may hold several nodes' events (issue 11 item 5): by default the tools show every node's,
//! each event with its subject (and so its node), and `replay` prints one state per node;
//! `--node` narrows them to one node's subjects.

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
use std::collections::{BTreeMap, BTreeSet};
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
    #[command(flatten)]
    scope: NodeScope,
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
                .any(|a| subject::area_of(&record.subject) == Some(a.as_str()));
        let subject_ok = self
            .subject
            .as_deref()
            .is_none_or(|f| subject::matches(f, &record.subject));
        area_ok && subject_ok
    }
}

/// Which node's events a tool reads.
#[derive(Args, Clone)]
pub struct NodeScope {
    /// Only this node's events (`mkube.<node>.>`); default: every node on the stream.
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    node: Option<String>,
}

impl NodeScope {
    fn holds(&self, record: &Record) -> bool {
        self.node
            .as_deref()
            .is_none_or(|n| subject::matches(&subject::stream_filter(n), &record.subject))
    }
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    source: NatsSource,
    #[command(flatten)]
    scope: NodeScope,
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
    #[command(flatten)]
    scope: NodeScope,
}

/// Connects for reading the whole stream, or only the node's subjects when `--node` is given.
async fn open(source: &NatsSource, scope: &NodeScope) -> anyhow::Result<EventLog> {
    let settings = LogSettings {
        url: source.nats.clone(),
        stream: source.stream.clone(),
        node: scope.node.clone().unwrap_or_default(),
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
                let scope = args.scope.clone();
                let records = records.into_iter().filter(move |r| scope.holds(r));
                Box::pin(futures::stream::iter(records.map(Ok)))
            }
            None => Box::pin(
                open(&args.source, &args.scope)
                    .await?
                    .read(1, until_seq)
                    .await?,
            ),
        };
    let mut printer = Printer::new(args.filter.format, false);
    // One fold per node: each node's state is the fold of its own subjects only.
    let mut folds: BTreeMap<String, Fold> = BTreeMap::new();
    futures::pin_mut!(records);
    while let Some(record) = records.next().await {
        let record = record?;
        let past_time = args.until_time.is_some_and(|t| record.stored > t);
        if record.seq > until_seq || past_time {
            break;
        }
        let node = subject::node_of(&record.subject).unwrap_or_default();
        let decoded = folds.entry(node).or_default().record(&record);
        if args.filter.shows(&record) {
            printer.event(&record, &decoded);
        }
    }
    if args.no_state {
        return Ok(());
    }
    if folds.is_empty() {
        folds.insert(args.scope.node.clone().unwrap_or_default(), Fold::default());
    }
    for (node, fold) in &folds {
        printer.state(node, fold);
    }
    Ok(())
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let log = open(&args.source, &args.scope).await?;
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
    if records.is_empty() {
        bail!("{} holds no events", args.file.display());
    }
    // The stream must cover every node the records were written by.
    let mut nodes = BTreeSet::new();
    for record in &records {
        let Some(node) = subject::node_of(&record.subject) else {
            bail!(
                "{}: record {} has subject {:?}, not mkube.<node>.<area>…",
                args.file.display(),
                record.seq,
                record.subject
            );
        };
        nodes.insert(node);
    }
    // A whole-stream handle: the emptiness check below is about every node's events.
    let settings = LogSettings {
        url: args.source.nats.clone(),
        stream: args.source.stream.clone(),
        node: String::new(),
        replicas: 1,
    };
    let log = EventLog::connect_reader(settings, Metrics::new()).await?;
    for node in &nodes {
        log.ensure_stream_for(node).await?;
    }
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
    let log = open(&args.source, &args.scope).await?;
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
