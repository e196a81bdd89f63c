//! gzip for `/metrics` bodies: a whole body at once, or a `fmt::Write` sink that a
//! render writes straight into, so the uncompressed text never exists whole.
//!
//! And gzip assembled from parts ([`deflate_part`], [`gzip_trailer`]): a gzip member is
//! a header, deflate blocks and a trailer (CRC-32 and length). Deflate output that ends
//! with a sync flush is byte-aligned and never marked final, so parts compressed
//! independently can follow one another, as pigz does; CRC-32s combine. Parts that
//! many answers share are compressed once per snapshot.

use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder};
use std::fmt;
use std::io::Write;

/// gzip level for `/metrics`: level 1 already shrinks the repetitive exposition about
/// eightfold, at a fraction of the CPU of the default level 6.
pub(crate) const GZIP_LEVEL: u32 = 1;

/// A `fmt::Write` that gzips what it is given. The encoder is fed 64 KiB at a time:
/// prometheus-client writes a few bytes per call, and deflate has a cost per call.
pub(crate) struct GzipSink {
    pending: String,
    encoder: GzEncoder<Vec<u8>>,
}

impl GzipSink {
    const CHUNK: usize = 64 * 1024;

    pub(crate) fn new(capacity: usize) -> Self {
        let encoder = GzEncoder::new(Vec::with_capacity(capacity), Compression::new(GZIP_LEVEL));
        GzipSink { pending: String::with_capacity(Self::CHUNK + 1024), encoder }
    }

    fn flush_pending(&mut self) {
        // Writing into a Vec cannot fail.
        self.encoder.write_all(self.pending.as_bytes()).expect("compressing into a Vec");
        self.pending.clear();
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.flush_pending();
        self.encoder.finish().expect("compressing into a Vec")
    }
}

impl fmt::Write for GzipSink {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.pending.push_str(s);
        if self.pending.len() >= Self::CHUNK {
            self.flush_pending();
        }
        Ok(())
    }
}

/// `body` compressed with gzip at [`GZIP_LEVEL`].
pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 6), Compression::new(GZIP_LEVEL));
    // Writing into a Vec cannot fail.
    encoder.write_all(body).expect("compressing into a Vec");
    encoder.finish().expect("compressing into a Vec")
}

/// A gzip member header: deflate, no name, no time, unknown OS (RFC 1952).
pub(crate) const GZIP_HEADER: &[u8] = &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// `pieces`, in order, as raw deflate at [`GZIP_LEVEL`]: sync-flushed so that another
/// part can follow, or finished when `last`.
pub(crate) fn deflate_part(pieces: &[&[u8]], last: bool) -> Vec<u8> {
    let size: usize = pieces.iter().map(|p| p.len()).sum();
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(size / 6 + 64), Compression::new(GZIP_LEVEL));
    // Writing into a Vec cannot fail.
    for piece in pieces {
        encoder.write_all(piece).expect("compressing into a Vec");
    }
    if last {
        return encoder.finish().expect("compressing into a Vec");
    }
    encoder.flush().expect("compressing into a Vec");
    std::mem::take(encoder.get_mut())
}

/// The gzip trailer for content with checksum `crc` and `length` bytes.
pub(crate) fn gzip_trailer(crc: &crc32fast::Hasher, length: u64) -> [u8; 8] {
    let mut trailer = [0; 8];
    trailer[..4].copy_from_slice(&crc.clone().finalize().to_le_bytes());
    // ISIZE is the length modulo 2^32.
    trailer[4..].copy_from_slice(&(length as u32).to_le_bytes());
    trailer
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn gunzip(bytes: &[u8]) -> String {
        use std::io::Read;
        let mut out = String::new();
        flate2::read::GzDecoder::new(bytes).read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn the_sink_and_the_one_shot_agree() {
        let text = "valkey_slot_keys{node=\"a:1\",slot=\"0\"} 5\n".repeat(5000);
        let mut sink = GzipSink::new(1024);
        fmt::Write::write_str(&mut sink, &text).unwrap();
        assert_eq!(gunzip(&sink.finish()), text);
        assert_eq!(gunzip(&gzip(text.as_bytes())), text);
    }

    #[test]
    fn independently_compressed_parts_make_one_gzip_member() {
        let parts = ["{\"head\":[", &"x,".repeat(10_000), "\"tail\"]}"];
        let mut out = GZIP_HEADER.to_vec();
        let mut crc = crc32fast::Hasher::new();
        for (i, part) in parts.iter().enumerate() {
            out.extend(deflate_part(&[part.as_bytes()], i == parts.len() - 1));
            let mut own = crc32fast::Hasher::new();
            own.update(part.as_bytes());
            crc.combine(&own);
        }
        out.extend(gzip_trailer(&crc, parts.iter().map(|p| p.len() as u64).sum()));
        assert_eq!(gunzip(&out), parts.concat());
    }
}
