//! A tiny blocking RESP2 client for test setup and assertions.
//!
//! The harness talks to servers with its own client instead of the crate under test
//! (or a client library) so that a bug in the exporter's Valkey code can never hide
//! itself by also breaking the tests that are meant to catch it. It is synchronous
//! (plain [`TcpStream`]) so that it can be used from any test, async or not, without
//! touching the runtime the exporter runs on.

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long to wait for a TCP connection to be accepted.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one read or write may block. Long enough for a slow CI machine, short
/// enough that a wedged server fails the test instead of hanging it.
const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// How many commands [`Conn::pipeline`] writes before reading their replies.
///
/// Writing an unbounded pipeline before reading anything can deadlock once both
/// sides' socket buffers are full; a bounded window keeps the round trips few
/// (one per window) while never depending on buffer sizes.
const PIPELINE_WINDOW: usize = 1_000;

/// One RESP2 reply.
///
/// Server errors are values, not `Err`s: a test that expects an error (for example
/// an unsupported command) asserts on [`Value::as_error`].
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    /// `+OK`-style status reply.
    Simple(String),
    /// `-ERR ...` error reply, without the leading `-`.
    Error(String),
    /// `:42` integer reply.
    Int(i64),
    /// `$n` bulk string; `None` is the null bulk string (`$-1`).
    Bulk(Option<Vec<u8>>),
    /// `*n` array; `None` is the null array (`*-1`).
    Array(Option<Vec<Value>>),
}

impl Value {
    /// The integer, if this is an integer reply.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The text of a status reply or of a UTF-8 bulk string.
    ///
    /// Errors are deliberately not text here, so that `as_str()` on a failed
    /// command is `None` rather than an error message mistaken for data.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Simple(text) => Some(text),
            Value::Bulk(Some(bytes)) => std::str::from_utf8(bytes).ok(),
            _ => None,
        }
    }

    /// The elements, if this is a non-null array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(Some(items)) => Some(items),
            _ => None,
        }
    }

    /// The message, if this is an error reply.
    pub fn as_error(&self) -> Option<&str> {
        match self {
            Value::Error(message) => Some(message),
            _ => None,
        }
    }
}

/// Shows bulk strings as text, so that assertion failures are readable.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Simple(text) => write!(f, "Simple({text:?})"),
            Value::Error(message) => write!(f, "Error({message:?})"),
            Value::Int(n) => write!(f, "Int({n})"),
            Value::Bulk(None) => f.write_str("Bulk(nil)"),
            Value::Bulk(Some(bytes)) => write!(f, "Bulk({:?})", String::from_utf8_lossy(bytes)),
            Value::Array(None) => f.write_str("Array(nil)"),
            Value::Array(Some(items)) => f.debug_list().entries(items).finish(),
        }
    }
}

/// One connection to one server.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    /// Connects to `addr` ("host:port"), with connect and I/O timeouts set.
    pub fn connect(addr: &str) -> io::Result<Conn> {
        let socket_addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{addr} resolves to nothing")))?;
        let stream = TcpStream::connect_timeout(&socket_addr, CONNECT_TIMEOUT)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Conn { reader: BufReader::new(stream.try_clone()?), writer: stream })
    }

    /// Sends one command and reads its reply.
    pub fn cmd(&mut self, args: &[&str]) -> io::Result<Value> {
        let mut request = Vec::new();
        encode(args, &mut request);
        self.writer.write_all(&request)?;
        read_value(&mut self.reader)
    }

    /// Sends many commands with few round trips and returns their replies in order.
    pub fn pipeline(&mut self, cmds: &[Vec<String>]) -> io::Result<Vec<Value>> {
        let mut replies = Vec::with_capacity(cmds.len());
        let mut request = Vec::new();
        for window in cmds.chunks(PIPELINE_WINDOW) {
            request.clear();
            for args in window {
                encode(args, &mut request);
            }
            self.writer.write_all(&request)?;
            for _ in window {
                replies.push(read_value(&mut self.reader)?);
            }
        }
        Ok(replies)
    }
}

/// Appends `args` to `out` as a RESP array of bulk strings.
fn encode<S: AsRef<[u8]>>(args: &[S], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Reads one complete reply, recursing into arrays.
fn read_value(reader: &mut impl BufRead) -> io::Result<Value> {
    let line = read_line(reader)?;
    let (&kind, rest) = line.split_first().ok_or_else(|| invalid("empty reply line".to_owned()))?;
    match kind {
        b'+' => Ok(Value::Simple(String::from_utf8_lossy(rest).into_owned())),
        b'-' => Ok(Value::Error(String::from_utf8_lossy(rest).into_owned())),
        b':' => Ok(Value::Int(parse_int(rest)?)),
        b'$' => read_bulk(reader, parse_int(rest)?),
        b'*' => read_array(reader, parse_int(rest)?),
        other => Err(invalid(format!("unexpected RESP type byte {:?} (is this a RESP3 reply?)", char::from(other)))),
    }
}

/// Reads the payload of a bulk string whose header announced `len` bytes.
fn read_bulk(reader: &mut impl BufRead, len: i64) -> io::Result<Value> {
    let Ok(len) = usize::try_from(len) else {
        return Ok(Value::Bulk(None));
    };
    let mut payload = vec![0; len + 2];
    reader.read_exact(&mut payload)?;
    if !payload.ends_with(b"\r\n") {
        return Err(invalid("bulk string not terminated by CRLF".to_owned()));
    }
    payload.truncate(len);
    Ok(Value::Bulk(Some(payload)))
}

/// Reads the elements of an array whose header announced `len` of them.
fn read_array(reader: &mut impl BufRead, len: i64) -> io::Result<Value> {
    let Ok(len) = usize::try_from(len) else {
        return Ok(Value::Array(None));
    };
    let items = (0..len).map(|_| read_value(reader)).collect::<io::Result<Vec<_>>>()?;
    Ok(Value::Array(Some(items)))
}

/// Reads one CRLF-terminated line and returns it without the CRLF.
fn read_line(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection"));
    }
    if !line.ends_with(b"\r\n") {
        return Err(invalid("reply line not terminated by CRLF".to_owned()));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn parse_int(digits: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| invalid(format!("bad integer {:?}", String::from_utf8_lossy(digits))))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
