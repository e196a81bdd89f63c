//! Traffic aimed at chosen slots: the commands, and sending them in one pipeline while
//! counting the bytes the server will attribute to those slots.
//!
//! Several tests compare the exporter's per-slot network counters with what they sent;
//! [`send`] returns exactly the RESP bytes of the commands, which is what Valkey counts
//! as `network-bytes-in` for their slot.

use super::resp::Conn;
use super::slots::slot_tag;

/// The key `{tag}:0` of `slot`: the one key a test reads over and over.
pub fn slot_key(slot: u16) -> String {
    format!("{{{}}}:0", slot_tag(slot))
}

/// `count` GETs of one key of `slot`.
pub fn gets(slot: u16, count: usize) -> Vec<Vec<String>> {
    (0..count).map(|_| vec!["GET".into(), slot_key(slot)]).collect()
}

/// `count` SETs of `value_bytes`-byte values to distinct keys of `slot`.
pub fn sets(slot: u16, count: usize, value_bytes: usize) -> Vec<Vec<String>> {
    let value = "v".repeat(value_bytes);
    (0..count).map(|i| vec!["SET".into(), format!("{{{}}}:t{i}", slot_tag(slot)), value.clone()]).collect()
}

/// Sends `commands` to `addr` in one pipeline, panicking on any error reply, and
/// returns the RESP bytes sent: what the server counts as network-bytes-in for the
/// commands' slots.
pub fn send(addr: &str, commands: &[Vec<String>]) -> u64 {
    let mut conn = Conn::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    for reply in conn.pipeline(commands).unwrap_or_else(|e| panic!("{addr}: {e}")) {
        assert!(reply.as_error().is_none(), "{addr}: {reply:?}");
    }
    commands.iter().map(|c| resp_size(c)).sum()
}

/// The size of `command` as a RESP array of bulk strings, as a client sends it.
pub fn resp_size(command: &[String]) -> u64 {
    let header = format!("*{}\r\n", command.len()).len();
    let args: usize = command.iter().map(|a| format!("${}\r\n", a.len()).len() + a.len() + 2).sum();
    (header + args) as u64
}
