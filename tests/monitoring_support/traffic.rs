//! Reads against a real cluster from a background thread, so that per-slot CPU and
//! network counters grow between scrapes: a steady walk over every slot, and
//! optionally a few hot slots on top, as a real cluster's long tail and hot keys.

use crate::support::{Conn, SLOT_COUNT, ValkeyCluster, slot_key, slot_tag};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Pause between rounds; each round sends one pipeline per primary.
const PAUSE: Duration = Duration::from_millis(50);

/// What each round sends to each primary.
#[derive(Clone, Debug)]
pub struct Load {
    /// GETs walking the primary's slots in turn, so that every slot sees commands
    /// every second or two.
    pub background: usize,
    /// Slots that get more on top.
    pub hot: Vec<HotSlot>,
}

/// A slot read far more than the others: `gets` GETs per round of one key holding
/// `value_bytes` bytes (large values make a slot hot on the network rather than CPU).
#[derive(Clone, Copy, Debug)]
pub struct HotSlot {
    pub slot: u16,
    pub gets: usize,
    pub value_bytes: usize,
}

impl Load {
    /// Every slot alike: 300 GETs per primary per round.
    pub fn steady() -> Load {
        Load { background: 300, hot: Vec::new() }
    }
}

/// The traffic thread; stopped on drop.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// One primary's share of a round.
struct Primary {
    connection: Conn,
    slots: Vec<u16>,
    hot: Vec<(String, usize)>,
}

impl Traffic {
    /// Writes the hot slots' keys, then starts reading.
    pub fn start(cluster: &ValkeyCluster, load: &Load) -> Traffic {
        let owners = cluster.slot_owners();
        let mut primaries: BTreeMap<String, Primary> = BTreeMap::new();
        for (slot, owner) in (0..SLOT_COUNT).zip(&owners) {
            let primary = primaries.entry(owner.clone()).or_insert_with(|| Primary {
                connection: Conn::connect(owner).expect("connect for traffic"),
                slots: Vec::new(),
                hot: Vec::new(),
            });
            primary.slots.push(slot);
        }
        for hot in &load.hot {
            let key = format!("{{{}}}:hot", slot_tag(hot.slot));
            let primary = primaries.get_mut(&owners[usize::from(hot.slot)]).expect("the slot's owner");
            let set = vec!["SET".to_owned(), key.clone(), "v".repeat(hot.value_bytes)];
            primary.connection.pipeline(&[set]).expect("write a hot key");
            primary.hot.push((key, hot.gets));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let background = load.background;
        let thread = std::thread::spawn(move || {
            let mut primaries: Vec<Primary> = primaries.into_values().collect();
            let mut round = 0;
            while !stopped.load(Ordering::Relaxed) {
                for primary in &mut primaries {
                    let commands = primary.round(round, background);
                    // A failed round is only less traffic; the checks will say if it matters.
                    let _ = primary.connection.pipeline(&commands);
                }
                round += 1;
                std::thread::sleep(PAUSE);
            }
        });
        Traffic { stop, thread: Some(thread) }
    }

    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Primary {
    fn round(&self, round: usize, background: usize) -> Vec<Vec<String>> {
        let get = |key: &str| vec!["GET".to_owned(), key.to_owned()];
        let walk = (0..background).map(|i| {
            let slot = self.slots[(round * background + i) % self.slots.len()];
            get(&slot_key(slot))
        });
        let hot = self.hot.iter().flat_map(|(key, gets)| std::iter::repeat_n(get(key), *gets));
        walk.chain(hot).collect()
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.halt();
    }
}
