//! Hash slots: computing a key's slot, making keys for a chosen slot, and filling a
//! cluster with a known number of keys in every slot.
//!
//! The exporter reports per-slot key counts, so the tests need data whose count in
//! each slot is known in advance. [`fill`] writes exactly `keys_per_slot(s)` keys
//! into every slot `s`, and [`expected_keys`] is the standard pattern to use with
//! it: it varies from slot to slot (a bug that shifts or mixes up slots changes
//! the numbers) and leaves some slots empty (which the exporter must still report).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::cluster::ValkeyCluster;
use super::resp::{Conn, Value};

/// Number of hash slots in a Valkey cluster.
pub const SLOT_COUNT: u16 = 16_384;

/// Largest number of keys written by one MSET, to keep single commands small
/// even when a test asks for many keys per slot.
const MAX_KEYS_PER_MSET: u64 = 1_000;

/// The cluster slot of `key`: CRC16-XMODEM of its hash tag, modulo 16384.
///
/// The hash tag is the part between the first `{` and the next `}` when that part
/// is non-empty; otherwise the whole key is hashed.
pub fn key_slot(key: &[u8]) -> u16 {
    crc16_xmodem(hash_tag(key)) % SLOT_COUNT
}

fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&byte| byte == b'{') else {
        return key;
    };
    let rest = &key[open + 1..];
    match rest.iter().position(|&byte| byte == b'}') {
        Some(len) if len > 0 => &rest[..len],
        _ => key,
    }
}

/// CRC16 with polynomial 0x1021 and initial value 0 (XMODEM), as Valkey uses.
fn crc16_xmodem(data: &[u8]) -> u16 {
    data.iter().fold(0, |crc, &byte| {
        (0..8).fold(
            crc ^ (u16::from(byte) << 8),
            |crc, _| {
                if crc & 0x8000 == 0 { crc << 1 } else { (crc << 1) ^ 0x1021 }
            },
        )
    })
}

/// The slots `node` owns, given every slot's owner (`ValkeyCluster::slot_owners`).
pub fn slots_of(owners: &[String], node: &str) -> Vec<u16> {
    (0..SLOT_COUNT).filter(|s| owners[usize::from(*s)] == node).collect()
}

/// A short string `t` with `key_slot(t) == slot`: the smallest decimal number
/// that hashes there. Keys `"{t}:anything"` then all land in `slot`.
pub fn slot_tag(slot: u16) -> &'static str {
    assert!(slot < SLOT_COUNT, "slot {slot} out of range");
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    &TAGS.get_or_init(compute_slot_tags)[usize::from(slot)]
}

/// Tries "0", "1", "2", ... until every slot has a tag (about 160k tries).
fn compute_slot_tags() -> Vec<String> {
    let mut tags: Vec<Option<String>> = vec![None; usize::from(SLOT_COUNT)];
    let mut missing = tags.len();
    for number in 0_u64.. {
        let candidate = number.to_string();
        let tag = &mut tags[usize::from(key_slot(candidate.as_bytes()))];
        if tag.is_none() {
            *tag = Some(candidate);
            missing -= 1;
            if missing == 0 {
                break;
            }
        }
    }
    tags.into_iter().map(|tag| tag.expect("the loop runs until every slot has a tag")).collect()
}

/// The sum of [`expected_keys`] over all 16384 slots.
pub const EXPECTED_KEYS_TOTAL: u64 = 81_925;

/// The standard key count for `slot`: `(slot * 7 + 3) % 11`.
///
/// Ranges over 0..=10 and repeats every 11 slots; slots 9, 20, 31, ... (slot % 11
/// == 9) get 0 keys. Adds up to [`EXPECTED_KEYS_TOTAL`] keys over all slots.
pub fn expected_keys(slot: u16) -> u64 {
    (u64::from(slot) * 7 + 3) % 11
}

/// Writes exactly `keys_per_slot(s)` keys `"{tag}:i"` (i = 0, 1, ...) into every
/// slot `s`, each on the primary that owns it now, and returns the total.
///
/// Meant for an empty cluster: keys already present with the same names are
/// overwritten, others are left alone. Uses one connection per primary and
/// pipelined MSETs, so ~80k keys take well under a second.
pub fn fill(cluster: &ValkeyCluster, keys_per_slot: impl Fn(u16) -> u64) -> u64 {
    let owners = cluster.slot_owners();
    let mut commands_by_owner: BTreeMap<&str, Vec<Vec<String>>> = BTreeMap::new();
    let mut total = 0;
    for slot in 0..SLOT_COUNT {
        let count = keys_per_slot(slot);
        if count == 0 {
            continue;
        }
        let owner = owners[usize::from(slot)].as_str();
        assert!(!owner.is_empty(), "fill: slot {slot} has no owner");
        commands_by_owner.entry(owner).or_default().extend(mset_commands(slot, count));
        total += count;
    }
    for (owner, commands) in &commands_by_owner {
        run_all_ok(owner, commands);
    }
    total
}

/// MSETs creating keys `"{tag}:0"` .. `"{tag}:{count-1}"` for `slot`.
fn mset_commands(slot: u16, count: u64) -> impl Iterator<Item = Vec<String>> {
    let tag = slot_tag(slot);
    (0..count).step_by(usize::try_from(MAX_KEYS_PER_MSET).expect("small constant")).map(move |start| {
        let end = (start + MAX_KEYS_PER_MSET).min(count);
        let mut command = vec!["MSET".to_owned()];
        for index in start..end {
            command.push(format!("{{{tag}}}:{index}"));
            command.push(index.to_string());
        }
        command
    })
}

/// Pipelines `commands` to `addr` and panics unless every reply is OK.
fn run_all_ok(addr: &str, commands: &[Vec<String>]) {
    let replies = Conn::connect(addr)
        .and_then(|mut conn| conn.pipeline(commands))
        .unwrap_or_else(|error| panic!("fill: writing to {addr} failed: {error}"));
    let ok = Value::Simple("OK".to_owned());
    if let Some((command, reply)) = commands.iter().zip(&replies).find(|(_, reply)| **reply != ok) {
        panic!("fill: {addr} answered {reply:?} to {} {}", command[0], command[1]);
    }
}
