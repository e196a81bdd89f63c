//! Live traffic while slots move, and the check that nothing was lost after.
//!
//! A background thread writes new keys into chosen slots and reads back keys it wrote,
//! as a cluster-aware client does: it follows `-MOVED` (the slot has a new owner) and
//! `-ASK` (the slot is half-moved: ask the target once, after `ASKING`), and retries
//! `-TRYAGAIN`. Every write the cluster acknowledged is remembered, so that
//! [`missing`] can read every one of them (and any other expected key) back after the
//! moves and name what is gone or changed.

use super::resp::{Conn, Value};
use super::slots::{key_slot, slot_tag};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Redirections followed for one command before giving up on it.
const MAX_REDIRECTS: usize = 16;
/// Pause after `-TRYAGAIN` or a refused connection, before the next attempt.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// A small cluster client: one connection per node, the slot owners it has learnt.
pub struct ClusterClient {
    conns: HashMap<String, Conn>,
    /// Owner by slot, learnt from `-MOVED`; a seed for slots not yet redirected.
    owners: HashMap<u16, String>,
    seed: String,
    /// `-MOVED` and `-ASK` replies followed: proof the traffic met the moves.
    pub moved: u64,
    pub asked: u64,
}

impl ClusterClient {
    pub fn new(seed: &str) -> ClusterClient {
        ClusterClient { conns: HashMap::new(), owners: HashMap::new(), seed: seed.to_string(), moved: 0, asked: 0 }
    }

    fn conn(&mut self, addr: &str) -> Result<&mut Conn, String> {
        if !self.conns.contains_key(addr) {
            let conn = Conn::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
            self.conns.insert(addr.to_string(), conn);
        }
        Ok(self.conns.get_mut(addr).expect("just inserted"))
    }

    /// Runs a one-key command, following redirections; the final reply or why none.
    pub fn run(&mut self, args: &[&str]) -> Result<Value, String> {
        let slot = key_slot(args[1].as_bytes());
        let mut addr = self.owners.get(&slot).cloned().unwrap_or_else(|| self.seed.clone());
        let mut asking = false;
        for _ in 0..MAX_REDIRECTS {
            let asking_sent = asking;
            let reply = {
                let conn = self.conn(&addr)?;
                let sent = if asking {
                    conn.pipeline(&[vec!["ASKING".into()], args.iter().map(|a| a.to_string()).collect()])
                        .map(|mut replies| replies.pop().expect("two replies"))
                } else {
                    conn.cmd(args)
                };
                match sent {
                    Ok(reply) => reply,
                    Err(e) => {
                        self.conns.remove(&addr);
                        return Err(format!("{addr}: {e}"));
                    }
                }
            };
            asking = false;
            match reply.as_error() {
                Some(e) if e.starts_with("MOVED ") => {
                    self.moved += 1;
                    addr = e.split_whitespace().nth(2).ok_or_else(|| e.to_string())?.to_string();
                    self.owners.insert(slot, addr.clone());
                }
                Some(e) if e.starts_with("ASK ") => {
                    self.asked += 1;
                    addr = e.split_whitespace().nth(2).ok_or_else(|| e.to_string())?.to_string();
                    asking = true;
                }
                Some(e) if e.starts_with("TRYAGAIN") => std::thread::sleep(RETRY_PAUSE),
                Some(e) => return Err(format!("{addr}: {} -> {e}", args.join(" "))),
                None => {
                    if !asking_sent {
                        self.owners.insert(slot, addr);
                    }
                    return Ok(reply);
                }
            }
        }
        Err(format!("{}: more than {MAX_REDIRECTS} redirections", args.join(" ")))
    }
}

/// What the writer saw.
#[derive(Debug, Default)]
pub struct LiveReport {
    /// Every acknowledged write: key -> value.
    pub written: BTreeMap<String, String>,
    /// Reads of a key written earlier that did not return its value.
    pub wrong_reads: Vec<String>,
    /// Commands that found no answer (a node down, too many redirections).
    pub errors: Vec<String>,
    pub moved: u64,
    pub asked: u64,
}

/// A writer running in the background until [`LiveTraffic::stop`].
pub struct LiveTraffic {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<LiveReport>>,
}

impl LiveTraffic {
    /// Writes `live:{i}` keys into `slots` in turn through `seed`, reading each
    /// previous key back, until stopped.
    pub fn start(seed: &str, slots: Vec<u16>) -> LiveTraffic {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let seed = seed.to_string();
        let thread = std::thread::spawn(move || write_until(&seed, &slots, &flag));
        LiveTraffic { stop, thread: Some(thread) }
    }

    pub fn stop(mut self) -> LiveReport {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().expect("running").join().expect("the traffic thread panicked")
    }
}

impl Drop for LiveTraffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn write_until(seed: &str, slots: &[u16], stop: &AtomicBool) -> LiveReport {
    let mut client = ClusterClient::new(seed);
    let mut report = LiveReport::default();
    let mut previous: Option<(String, String)> = None;
    let mut i = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let slot = slots[(i % slots.len() as u64) as usize];
        let key = format!("{{{}}}:live{i}", slot_tag(slot));
        let value = format!("value-{i}");
        match client.run(&["SET", &key, &value]) {
            Ok(_) => {
                report.written.insert(key.clone(), value.clone());
            }
            Err(e) => report.errors.push(e),
        }
        if let Some((key, value)) = previous.take() {
            match client.run(&["GET", &key]) {
                Ok(Value::Bulk(Some(got))) if got == value.as_bytes() => {}
                Ok(other) => report.wrong_reads.push(format!("{key}: {other:?}")),
                Err(e) => report.errors.push(e),
            }
        }
        previous = Some((key, value));
        i += 1;
    }
    report.moved = client.moved;
    report.asked = client.asked;
    report
}

/// Keys read in one pipeline by [`missing`].
const READ_BATCH: usize = 1000;

/// Of `expected` (key -> value), the keys the cluster does not return as expected.
/// Keys are read slot by slot in pipelines to the slot's owner; a redirected read is
/// asked again the careful way.
pub fn missing(seed: &str, expected: &BTreeMap<String, String>) -> Vec<String> {
    let mut client = ClusterClient::new(seed);
    let mut by_slot: BTreeMap<u16, Vec<(&String, &String)>> = BTreeMap::new();
    for (key, value) in expected {
        by_slot.entry(key_slot(key.as_bytes())).or_default().push((key, value));
    }
    let mut lost = Vec::new();
    for (slot, keys) in by_slot {
        let mut check = |client: &mut ClusterClient, key: &str, value: &str, reply: Result<Value, String>| match reply {
            Ok(Value::Bulk(Some(got))) if got == value.as_bytes() => {}
            Ok(Value::Error(_)) => match client.run(&["GET", key]) {
                Ok(Value::Bulk(Some(got))) if got == value.as_bytes() => {}
                other => lost.push(format!("{key}: {other:?}")),
            },
            other => lost.push(format!("{key}: {other:?}")),
        };
        let (first_key, first_value) = keys[0];
        let first = client.run(&["GET", first_key]);
        check(&mut client, first_key, first_value, first);
        let owner = client.owners.get(&slot).cloned().unwrap_or_else(|| seed.to_string());
        for chunk in keys[1..].chunks(READ_BATCH) {
            let commands: Vec<Vec<String>> =
                chunk.iter().map(|(k, _)| vec!["GET".to_string(), k.to_string()]).collect();
            let replies = client.conn(&owner).and_then(|c| c.pipeline(&commands).map_err(|e| e.to_string()));
            match replies {
                Ok(replies) => {
                    for ((key, value), reply) in chunk.iter().zip(replies) {
                        check(&mut client, key, value, Ok(reply));
                    }
                }
                Err(e) => {
                    for (key, value) in chunk {
                        check(&mut client, key, value, Err(e.clone()));
                    }
                }
            }
        }
    }
    lost
}

/// The keys [`super::fill`] writes into `slot` (`count` of them), with their values.
pub fn filled_keys(slot: u16, count: u64) -> impl Iterator<Item = (String, String)> {
    let tag = slot_tag(slot);
    (0..count).map(move |i| (format!("{{{tag}}}:{i}"), i.to_string()))
}
