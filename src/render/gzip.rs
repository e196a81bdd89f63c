//! gzip for `/metrics` bodies: a whole body at once, or a `fmt::Write` sink that a
//! render writes straight into, so the uncompressed text never exists whole.

use flate2::Compression;
use flate2::write::GzEncoder;
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
}
