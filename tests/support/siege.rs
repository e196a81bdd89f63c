//! Hostile clients, as a network neighbour would run them against the exporter: the
//! connection holders of issue 15 (connections that never finish a request, reopened
//! as soon as they are closed) and clients that ask for large answers and never read
//! them. Plain sockets and hand-written HTTP/2 frames, so that nothing in a client
//! library politely closes, reads or times out on the attacker's behalf.
//!
//! Every loop stops by itself: on [`Holders::stop`] (or drop), and every blocking call
//! has a timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The client preface every HTTP/2 connection starts with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// How often a holder looks at its stop flag while it waits.
const POLL: Duration = Duration::from_millis(200);

/// A way of holding a connection without ever finishing a request on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// Connects and sends nothing.
    Silent,
    /// Sends the HTTP/2 preface and nothing more.
    Http2Preface,
    /// One HTTP/1.1 request, reads its answer, then keeps the connection idle.
    Http1IdleAfterAnswer,
    /// One HTTP/2 request, reads its answer, then keeps the connection idle.
    Http2IdleAfterAnswer,
}

impl Holder {
    pub const ALL: [Holder; 4] =
        [Holder::Silent, Holder::Http2Preface, Holder::Http1IdleAfterAnswer, Holder::Http2IdleAfterAnswer];

    /// Opens the connection the way this holder does; `None` if the server refused.
    pub fn open(self, addr: SocketAddr) -> Option<TcpStream> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
        stream.set_read_timeout(Some(POLL)).ok()?;
        let opened = match self {
            Holder::Silent => Some(()),
            Holder::Http2Preface => stream.write_all(H2_PREFACE).ok(),
            Holder::Http1IdleAfterAnswer => {
                stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: siege\r\n\r\n").ok()?;
                read_until(&mut stream, b"ok\n")
            }
            Holder::Http2IdleAfterAnswer => {
                stream.write_all(&h2_requests(&["/healthz"], false)).ok()?;
                read_until(&mut stream, b"ok\n")
            }
        };
        opened.map(|()| stream)
    }
}

/// Reads until `needle` arrived (`Some`) or the connection or 3 s ran out (`None`).
fn read_until(stream: &mut TcpStream, needle: &[u8]) -> Option<()> {
    let (mut seen, mut buf, started) = (Vec::new(), [0u8; 4096], Instant::now());
    while started.elapsed() < Duration::from_secs(3) {
        match stream.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => {
                seen.extend_from_slice(&buf[..n]);
                if seen.windows(needle.len()).any(|w| w == needle) {
                    return Some(());
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return None,
        }
    }
    None
}

/// An HTTP/2 client's opening: the preface, a SETTINGS frame (with a zero initial
/// stream window when `zero_window`: the server may then send no answer data at all),
/// and one GET per path on streams 1, 3, 5, ... HPACK without Huffman coding.
pub fn h2_requests(paths: &[&str], zero_window: bool) -> Vec<u8> {
    let mut out = H2_PREFACE.to_vec();
    let settings: &[u8] = if zero_window { &[0, 4, 0, 0, 0, 0] } else { &[] };
    frame(&mut out, 4, 0, 0, settings);
    for (i, path) in paths.iter().enumerate() {
        // :method GET, :scheme http (static table), :path as a literal with index 4.
        let mut block = vec![0x82, 0x86, 0x44, u8::try_from(path.len()).expect("short path")];
        block.extend_from_slice(path.as_bytes());
        // END_STREAM | END_HEADERS
        frame(&mut out, 1, 0x05, 1 + 2 * i as u32, &block);
    }
    out
}

fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
}

/// Threads holding connections open, each reopening its connection as soon as the
/// server closes it.
pub struct Holders {
    stop: Arc<AtomicBool>,
    /// Connections opened, reopenings included.
    opened: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl Holders {
    /// `per_kind` holders of each kind in `kinds`.
    pub fn start(addr: SocketAddr, kinds: &[Holder], per_kind: usize) -> Holders {
        let stop = Arc::new(AtomicBool::new(false));
        let opened = Arc::new(AtomicU64::new(0));
        let threads = kinds
            .iter()
            .flat_map(|kind| std::iter::repeat_n(*kind, per_kind))
            .map(|kind| {
                let (stop, opened) = (stop.clone(), opened.clone());
                std::thread::spawn(move || hold(addr, kind, &stop, &opened))
            })
            .collect();
        Holders { stop, opened, threads }
    }

    /// Connections opened so far.
    pub fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Stops every holder and closes their connections.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Holders {
    fn drop(&mut self) {
        self.shut();
    }
}

fn hold(addr: SocketAddr, kind: Holder, stop: &AtomicBool, opened: &AtomicU64) {
    while !stop.load(Ordering::Relaxed) {
        let Some(mut stream) = kind.open(addr) else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        opened.fetch_add(1, Ordering::Relaxed);
        let mut buf = [0u8; 4096];
        while !stop.load(Ordering::Relaxed) {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
    }
}

/// How long until the server closes `stream` (EOF or reset), reading whatever it
/// sends meanwhile; `None` if it is still open after `limit`.
pub fn time_to_close(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 16 * 1024];
    stream.set_read_timeout(Some(POLL)).ok()?;
    while started.elapsed() < limit {
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

/// Clients that ask for `target` and never read the answer: `http1` connections with a
/// small receive buffer, each sending `pipelined` requests at once, and one HTTP/2
/// connection with a zero stream window and `h2_streams` requests. Returned so that the
/// caller decides when they go.
///
/// One answer of a few MB may fit whole in the kernel's buffers (the server's send
/// buffer grows to 4 MB), and then the server is done with it; several pipelined answers
/// cannot, so the server's writes stall, as with a client far away that stopped reading.
pub async fn unread_answers(
    addr: SocketAddr,
    target: &str,
    http1: usize,
    pipelined: usize,
    h2_streams: usize,
) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(http1 + 1);
    let request =
        format!("GET {target} HTTP/1.1\r\nHost: siege\r\nAccept-Encoding: identity\r\n\r\n").repeat(pipelined);
    for _ in 0..http1 {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let stream = socket.connect(addr).await.expect("connect").into_std().expect("std stream");
        stream.set_nonblocking(false).expect("blocking");
        (&stream).write_all(request.as_bytes()).expect("send request");
        streams.push(stream);
    }
    if h2_streams > 0 {
        let stream = TcpStream::connect(addr).expect("connect");
        let paths = vec![target; h2_streams];
        (&stream).write_all(&h2_requests(&paths, true)).expect("send requests");
        streams.push(stream);
    }
    streams
}
