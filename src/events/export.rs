//! The portable log file of `mkube export` / `mkube import` / `mkube replay --file`: a CBOR
//! sequence (RFC 8742) of one header `{format: "mkube-log", version: 1, stream, exportedAt}`
//! followed by one item per record `{seq, subject, stored, data}`, where `data` is the record's
//! envelope bytes exactly as stored. A user can hand this file to someone else to debug.

use super::record::Record;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

const FORMAT: &str = "mkube-log";
const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub stream: String,
    pub exported_at: String,
}

#[derive(Serialize, Deserialize)]
struct Item {
    seq: u64,
    subject: String,
    stored: String,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}

fn file_error(path: &Path, reason: impl ToString) -> ExportError {
    ExportError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

pub struct ExportWriter {
    out: BufWriter<File>,
    path: std::path::PathBuf,
    count: u64,
}

impl ExportWriter {
    pub fn create(path: &Path, stream: &str) -> Result<Self, ExportError> {
        let file = File::create(path).map_err(|e| file_error(path, e))?;
        let mut writer = ExportWriter {
            out: BufWriter::new(file),
            path: path.to_path_buf(),
            count: 0,
        };
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            stream: stream.into(),
            exported_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        };
        ciborium::into_writer(&header, &mut writer.out).map_err(|e| file_error(path, e))?;
        Ok(writer)
    }

    pub fn write(&mut self, record: &Record) -> Result<(), ExportError> {
        let item = Item {
            seq: record.seq,
            subject: record.subject.clone(),
            stored: record.stored.to_rfc3339_opts(SecondsFormat::Nanos, true),
            data: record.data.to_vec(),
        };
        ciborium::into_writer(&item, &mut self.out).map_err(|e| file_error(&self.path, e))?;
        self.count += 1;
        Ok(())
    }

    /// Flushes and syncs the file; returns how many records it holds.
    pub fn finish(mut self) -> Result<u64, ExportError> {
        self.out.flush().map_err(|e| file_error(&self.path, e))?;
        self.out
            .get_ref()
            .sync_all()
            .map_err(|e| file_error(&self.path, e))?;
        Ok(self.count)
    }
}

/// Reads a whole export: its header and every record, in file order.
pub fn read_file(path: &Path) -> Result<(Header, Vec<Record>), ExportError> {
    let file = File::open(path).map_err(|e| file_error(path, e))?;
    let mut input = BufReader::new(file);
    let header: Header = ciborium::from_reader(&mut input)
        .map_err(|e| file_error(path, format!("not an mkube log export: {e}")))?;
    if header.format != FORMAT || header.version != VERSION {
        return Err(file_error(
            path,
            format!("unsupported export {} v{}", header.format, header.version),
        ));
    }
    let mut records = Vec::new();
    loop {
        let at_end = input
            .fill_buf()
            .map_err(|e| file_error(path, e))?
            .is_empty();
        if at_end {
            break;
        }
        let item: Item = ciborium::from_reader(&mut input)
            .map_err(|e| file_error(path, format!("record after #{}: {e}", records.len())))?;
        let stored = DateTime::parse_from_rfc3339(&item.stored)
            .map_err(|e| file_error(path, format!("record {}: bad time: {e}", item.seq)))?
            .with_timezone(&Utc);
        records.push(Record {
            seq: item.seq,
            subject: item.subject,
            stored,
            data: item.data.into(),
        });
    }
    Ok((header, records))
}
