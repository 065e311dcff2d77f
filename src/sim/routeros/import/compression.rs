//! Recognise how a layer or archive stream is compressed and wrap it accordingly.

use std::io::{BufRead, BufReader, Read};

use super::ImportError;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Look at the first bytes without consuming them.
pub(crate) fn sniff<R: BufRead>(reader: &mut R) -> std::io::Result<Compression> {
    let head = reader.fill_buf()?;
    Ok(if head.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    })
}

/// A reader yielding the uncompressed tar stream; zstd is refused.
pub(crate) fn decompressed<'a, R: Read + 'a>(reader: R) -> Result<Box<dyn Read + 'a>, ImportError> {
    let mut buffered = BufReader::with_capacity(64 * 1024, reader);
    match sniff(&mut buffered)? {
        Compression::Gzip => Ok(Box::new(flate2::read::MultiGzDecoder::new(buffered))),
        Compression::Zstd => Err(zstd_unsupported()),
        Compression::None => Ok(Box::new(buffered)),
    }
}

pub(crate) fn zstd_unsupported() -> ImportError {
    ImportError::Unsupported("zstd compressed layers".into())
}
