//! How `replay` and `events` print: a table for people, or one JSON object per line.

use super::Format;
use chrono::SecondsFormat;
use mkube::actors::Fold;
use mkube::events::{DecodeError, Envelope, Record, record_json};
use serde_json::json;
use std::io::Write;

pub struct Printer {
    format: Format,
    out: std::io::BufWriter<std::io::Stdout>,
    /// Flush after every event (when following live events, a line must not wait).
    live: bool,
}

impl Printer {
    pub fn new(format: Format, live: bool) -> Self {
        Printer {
            format,
            out: std::io::BufWriter::new(std::io::stdout()),
            live,
        }
    }

    pub fn event(&mut self, record: &Record, decoded: &Result<Envelope, DecodeError>) {
        let stored = record.stored.to_rfc3339_opts(SecondsFormat::Millis, true);
        let line = match (self.format, decoded) {
            (Format::Json, _) => record_json(record, decoded).to_string(),
            (Format::Table, Ok(env)) => format!(
                "{:>8}  {stored}  {:<28} {:<44} {}",
                record.seq,
                env.kind(),
                record.subject,
                env.payload_json()
            ),
            (Format::Table, Err(e)) => format!(
                "{:>8}  {stored}  {:<28} {:<44} {}",
                record.seq, "UNDECODABLE", record.subject, e.reason
            ),
        };
        let _ = writeln!(self.out, "{line}");
        if self.live {
            let _ = self.out.flush();
        }
    }

    /// The state one node's events fold to.
    pub fn state(&mut self, node: &str, fold: &Fold) {
        let state = serde_json::to_value(&fold.state).unwrap_or_default();
        match self.format {
            Format::Json => {
                let line = json!({
                    "node": node,
                    "lastSeq": fold.last_seq,
                    "undecodable": fold.undecodable.iter().map(|e| e.seq).collect::<Vec<_>>(),
                    "state": state,
                });
                let _ = writeln!(self.out, "{line}");
            }
            Format::Table => {
                let _ = writeln!(
                    self.out,
                    "\nstate at sequence {} of node {node:?}:",
                    fold.last_seq
                );
                if let Some(actors) = state.as_object() {
                    for (actor, slice) in actors {
                        let _ = writeln!(self.out, "[{actor}]");
                        print_slice(&mut self.out, slice);
                    }
                }
                if !fold.undecodable.is_empty() {
                    let seqs: Vec<_> = fold.undecodable.iter().map(|e| e.seq.to_string()).collect();
                    let _ = writeln!(self.out, "undecodable records skipped: {}", seqs.join(", "));
                }
            }
        }
        let _ = self.out.flush();
    }
}

/// One line per entry of each map in an actor's state: `  field key: value`.
fn print_slice(out: &mut impl Write, slice: &serde_json::Value) {
    let Some(fields) = slice.as_object() else {
        let _ = writeln!(out, "  {slice}");
        return;
    };
    for (field, value) in fields {
        match value.as_object() {
            Some(map) if map.is_empty() => {
                let _ = writeln!(out, "  {field}: (none)");
            }
            Some(map) => {
                for (key, entry) in map {
                    let _ = writeln!(out, "  {field} {key}: {entry}");
                }
            }
            None => {
                let _ = writeln!(out, "  {field}: {value}");
            }
        }
    }
}

impl Drop for Printer {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}
