//! Picking TCP ports for the servers a test starts.
//!
//! A cluster node listens on its client port P and on its cluster-bus port
//! P + 10000, so every port handed out here is checked on both. Ports come from
//! 20000..22700, which keeps the bus ports (30000..32700) below Linux's default
//! ephemeral range (32768 and up), where outgoing connections could take them.
//!
//! A check only says a port was free a moment ago: another test may bind it first.
//! Callers therefore retry a failed start on the next port (see `server::launch`).
//! To make such races rare, ports are handed out by one process-wide cursor (so
//! parallel tests in one process never get the same port) that starts at a
//! pid- and time-derived offset (so parallel test processes start far apart).
//!
//! For a single port that needs no bus port (an exporter, Prometheus, an address
//! nobody listens on), [`free_local_addr`] lets the OS pick one.

use std::net::{SocketAddr, TcpListener};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// First client port handed out.
const FIRST_PORT: u16 = 20_000;

/// Number of client ports in the range.
const PORT_SPAN: u16 = 2_700;

/// Distance from a node's client port to its cluster-bus port (fixed by Valkey).
pub const BUS_PORT_OFFSET: u16 = 10_000;

/// The next port P such that both P and P + 10000 can be bound on 127.0.0.1 now.
pub fn next_free_port() -> u16 {
    for _ in 0..PORT_SPAN {
        let port = next_candidate();
        if is_free(port) && is_free(port + BUS_PORT_OFFSET) {
            return port;
        }
    }
    panic!("no free port pair (P, P+{BUS_PORT_OFFSET}) with P in {FIRST_PORT}..{}", FIRST_PORT + PORT_SPAN);
}

/// Advances the shared cursor and maps it into the port range.
fn next_candidate() -> u16 {
    let offset = cursor().fetch_add(1, Ordering::Relaxed) % u32::from(PORT_SPAN);
    FIRST_PORT + u16::try_from(offset).expect("offset is below PORT_SPAN, a u16")
}

fn cursor() -> &'static AtomicU32 {
    static CURSOR: OnceLock<AtomicU32> = OnceLock::new();
    CURSOR.get_or_init(|| AtomicU32::new(random_start()))
}

/// A start offset that differs between processes started at the same time
/// (pid) and between runs of the same pid (clock).
fn random_start() -> u32 {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.subsec_nanos());
    std::process::id().wrapping_mul(7_919).wrapping_add(nanos) % u32::from(PORT_SPAN)
}

fn is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A port on 127.0.0.1 that was free a moment ago (the OS picked it).
pub fn free_local_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("bound address")
}
