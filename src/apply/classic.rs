//! Servers before Valkey 9.0: the classic steps, one slot at a time, as `valkey-cli
//! --cluster reshard` takes them. `SETSLOT IMPORTING` on the target, `SETSLOT
//! MIGRATING` on the source, then `GETKEYSINSLOT` + `MIGRATE` in batches until the
//! source holds none of the slot's keys, then `SETSLOT NODE` on the target, the source
//! and every other primary.
//!
//! No key is lost on the way: while the slot is open, the source answers for keys it
//! still holds and sends clients (`-ASK`) to the target for the others, and `MIGRATE`
//! moves each key atomically. A key already on the target fails its batch (`BUSYKEY`)
//! instead of being overwritten. A fault or an interrupt between batches leaves the
//! slot open, and the outcome says so with the commands that finish or undo it.

use super::link::{CommandFailed, Link};
use super::{Event, Interrupt, LeftOpen, Outcome, Progress, SlotMove, Stopped, interrupted};
use crate::addr::NodeAddr;
use crate::insight::commands::{ScriptMove, script};

/// Keys per `MIGRATE`: one round trip per thousand keys, each batch still a small
/// fraction of a millisecond of the source's time per key.
pub(crate) const BATCH: usize = 1000;

/// Carries out `moves` slot after slot until done, a fault or an interrupt;
/// `primaries` are every primary of the cluster, each told the slot's new owner.
pub(crate) async fn run(
    link: &Link,
    moves: &[SlotMove],
    primaries: &[NodeAddr],
    progress: &mut dyn Progress,
    interrupt: &Interrupt,
) -> Outcome {
    let mut outcome = Outcome::default();
    for m in moves {
        if interrupted(interrupt) {
            outcome.stopped = Some(Stopped::Interrupted);
            break;
        }
        progress.event(Event::SlotStarted {
            slot: m.slot,
            source: m.source.addr.clone(),
            target: m.target.addr.clone(),
        });
        match one_slot(link, m, primaries, progress, interrupt).await {
            Ok(()) => {
                outcome.moved.push(m.slot);
                progress.event(Event::SlotsDone { slots: vec![m.slot] });
            }
            Err(Halt { stage, stop }) => {
                match stage {
                    Stage::Untouched => outcome.not_moved.push(m.slot),
                    Stage::Open => outcome.open.push(left_open(link, m, primaries).await),
                    Stage::Owned => outcome.moved.push(m.slot),
                }
                outcome.stopped = Some(stop);
                break;
            }
        }
    }
    outcome.not_started(moves);
    outcome
}

/// How far a slot got when its move stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Nothing was changed.
    Untouched,
    /// Marked importing and/or migrating: half-moved.
    Open,
    /// Its target and source agree it is the target's; a third primary was not told
    /// (gossip will tell it).
    Owned,
}

struct Halt {
    stage: Stage,
    stop: Stopped,
}

fn halt(stage: Stage) -> impl Fn(CommandFailed) -> Halt {
    move |failed| Halt { stage, stop: Stopped::Fault(failed.to_string()) }
}

async fn one_slot(
    link: &Link,
    m: &SlotMove,
    primaries: &[NodeAddr],
    progress: &mut dyn Progress,
    interrupt: &Interrupt,
) -> Result<(), Halt> {
    let (source, target) = (&m.source, &m.target);
    link.setslot(&target.addr, m.slot, "IMPORTING", Some(&source.id)).await.map_err(halt(Stage::Untouched))?;
    link.setslot(&source.addr, m.slot, "MIGRATING", Some(&target.id)).await.map_err(halt(Stage::Open))?;
    loop {
        let keys = link.keys_in_slot(&source.addr, m.slot, BATCH).await.map_err(halt(Stage::Open))?;
        if keys.is_empty() {
            break;
        }
        let count = keys.len() as u64;
        link.migrate(&source.addr, &target.addr, keys).await.map_err(halt(Stage::Open))?;
        progress.event(Event::KeysMoved { slot: m.slot, keys: count });
        if interrupted(interrupt) {
            return Err(Halt { stage: Stage::Open, stop: Stopped::Interrupted });
        }
    }
    // The target first: once it owns the slot, the source's answer for it is final.
    link.setslot(&target.addr, m.slot, "NODE", Some(&target.id)).await.map_err(halt(Stage::Open))?;
    link.setslot(&source.addr, m.slot, "NODE", Some(&target.id)).await.map_err(halt(Stage::Open))?;
    for other in primaries.iter().filter(|p| **p != source.addr && **p != target.addr) {
        link.setslot(other, m.slot, "NODE", Some(&target.id)).await.map_err(halt(Stage::Owned))?;
    }
    Ok(())
}

/// A slot the moves left open: where its keys are (when the nodes still answer), the
/// script that finishes the move, and how to undo it.
async fn left_open(link: &Link, m: &SlotMove, primaries: &[NodeAddr]) -> LeftOpen {
    let (source, target) = (&m.source.addr, &m.target.addr);
    let (on_source, on_target) = tokio::join!(link.count_keys(source, m.slot), link.count_keys(target, m.slot));
    let count = |c: &Result<u64, CommandFailed>| c.as_ref().map_or("an unknown number of".to_string(), u64::to_string);
    let state = format!(
        "slot {} is MIGRATING on {} and IMPORTING on {}: {} of its keys on {}, {} on {}",
        m.slot,
        source.as_str(),
        target.as_str(),
        count(&on_source),
        source.as_str(),
        count(&on_target),
        target.as_str()
    );
    let all: Vec<&NodeAddr> = primaries.iter().collect();
    let one = ScriptMove {
        slot: m.slot,
        keys: *on_source.as_ref().unwrap_or(&0),
        source: (source, &m.source.id),
        target: (target, &m.target.id),
    };
    let cli = if link.tls() { "valkey-cli --tls" } else { "valkey-cli" };
    let finish = script(&[one], &all, cli);
    let roll_back = match on_target {
        Ok(0) => vec![
            format!("{} CLUSTER SETSLOT {} STABLE", link.cli(target), m.slot),
            format!("{} CLUSTER SETSLOT {} STABLE", link.cli(source), m.slot),
        ],
        _ => vec![format!(
            "# {} already holds keys of slot {}: undoing now would strand them; finish the move (above), \
             then move the slot back the same way if you must",
            target.as_str(),
            m.slot
        )],
    };
    LeftOpen { slot: m.slot, state, finish, roll_back }
}
