//! The refresh floor: the least work that gets every node's `CLUSTER SLOT-STATS` reply
//! into this process.
//!
//! One plain TCP connection per node, kept across rounds like the exporter's; the
//! command is written once and the reply read into one growing buffer, with a
//! resumable scanner that checks the RESP framing as bytes arrive (each byte looked at
//! once, nothing allocated per element). It builds no data structure at all, so the
//! exporter's refresh (which must also decode, attribute and sort the statistics) can
//! only approach it.

use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One connection to one node.
pub struct RawConn {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawConn {
    pub async fn connect(addr: &str) -> io::Result<RawConn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(RawConn { stream, buffer: Vec::with_capacity(1 << 20) })
    }

    /// Sends one command and reads its whole reply; returns the reply's size in bytes.
    pub async fn fetch(&mut self, args: &[&str]) -> io::Result<usize> {
        self.stream.write_all(&encode_command(args)).await?;
        self.buffer.clear();
        let mut scanner = Scanner::default();
        loop {
            if self.buffer.capacity() - self.buffer.len() < 64 * 1024 {
                self.buffer.reserve(256 * 1024);
            }
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-reply"));
            }
            match scanner.advance(&self.buffer) {
                Scan::Done(len) => return Ok(len),
                Scan::NeedMore => {}
                Scan::Invalid(why) => return Err(io::Error::new(io::ErrorKind::InvalidData, why)),
            }
        }
    }
}

/// A RESP2 command: an array of bulk strings.
pub fn encode_command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

pub enum Scan {
    /// The reply is complete and this long.
    Done(usize),
    NeedMore,
    Invalid(&'static str),
}

/// Where a RESP2 reply scan stopped: the offset of the next unread element and how
/// many elements each open array still expects.
#[derive(Default)]
pub struct Scanner {
    pos: usize,
    open: Vec<u64>,
}

impl Scanner {
    /// Scans what `buffer` holds beyond the last stop.
    pub fn advance(&mut self, buffer: &[u8]) -> Scan {
        loop {
            let Some(line_end) = find_crlf(buffer, self.pos) else { return Scan::NeedMore };
            let line = &buffer[self.pos..line_end];
            let Some((&kind, digits)) = line.split_first() else { return Scan::Invalid("empty line") };
            let mut next = line_end + 2;
            match kind {
                b'+' | b'-' | b':' => {}
                b'$' => match parse_len(digits) {
                    Some(Len::Null) => {}
                    Some(Len::Some(n)) => {
                        next += n as usize + 2;
                        if next > buffer.len() {
                            return Scan::NeedMore;
                        }
                    }
                    None => return Scan::Invalid("bad bulk length"),
                },
                b'*' => match parse_len(digits) {
                    Some(Len::Some(n)) if n > 0 => {
                        self.pos = next;
                        self.open.push(n);
                        continue;
                    }
                    Some(_) => {}
                    None => return Scan::Invalid("bad array length"),
                },
                _ => return Scan::Invalid("unknown RESP2 type"),
            }
            self.pos = next;
            // One element finished: close every array it completes.
            loop {
                match self.open.last_mut() {
                    None => return Scan::Done(self.pos),
                    Some(remaining) if *remaining > 1 => {
                        *remaining -= 1;
                        break;
                    }
                    Some(_) => {
                        self.open.pop();
                    }
                }
            }
        }
    }
}

enum Len {
    Null,
    Some(u64),
}

fn parse_len(digits: &[u8]) -> Option<Len> {
    if digits == b"-1" {
        return Some(Len::Null);
    }
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, d| d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))).map(Len::Some)
}

fn find_crlf(buffer: &[u8], from: usize) -> Option<usize> {
    let rest = buffer.get(from..)?;
    rest.windows(2).position(|w| w == b"\r\n").map(|i| from + i)
}
