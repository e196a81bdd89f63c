//! The slot entries of one snapshot, encoded once and shared by every slot-stats answer
//! for it: as JSON text (a range is a slice of it) and, on the first gzip request, as
//! deflate blocks (a range is a few blocks plus its two ends compressed on the spot).
//! A hundred clients that ask for every slot and never read pin one copy, not a hundred.

use super::gzip::{GZIP_HEADER, deflate_part, gzip_trailer};
use super::json::{JsonReply, SlotStatsReply, slot_stats_reply};
use super::per_snapshot::{PerSnapshot, run_blocking};
use crate::cache::Served;
use crate::snapshot::Snapshot;
use bytes::Bytes;
use std::ops::{Range, RangeInclusive};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::OnceCell;

/// Records per shared deflate block: 64 blocks for a full cluster, each about 40 KB of
/// JSON, so an answer compresses at most two blocks' worth itself.
const BLOCK_RECORDS: usize = 256;

/// The slot-stats answer for `range` in one piece, taking the slot entries from
/// `encoded`, which must have been built from `served.value`.
pub fn slot_stats_from(
    served: &Served<Snapshot>,
    encoded: &EncodedSlots,
    range: RangeInclusive<u16>,
    now: SystemTime,
) -> JsonReply {
    match slot_stats_reply(served, range, now) {
        Ok(reply) => {
            let entries = encoded.joined(reply.records.clone());
            let body = [reply.before.as_bytes(), &entries, reply.after.as_bytes()].concat();
            JsonReply { status: reply.status, body: String::from_utf8(body).expect("JSON text is UTF-8") }
        }
        Err(error) => error,
    }
}

/// Every slot entry of one snapshot as JSON, encoded once.
pub struct EncodedSlots {
    /// Each record's object followed by a comma, in snapshot (slot) order.
    text: Bytes,
    /// Where each record's object starts in `text`, plus the end of the text.
    starts: Vec<u32>,
}

/// [`EncodedSlots`] compressed in blocks of [`BLOCK_RECORDS`] records.
struct DeflatedSlots {
    /// Block `k`: the text of records `k * BLOCK_RECORDS ..`, sync-flushed raw deflate.
    blocks: Vec<DeflatedBlock>,
}

struct DeflatedBlock {
    deflated: Bytes,
    /// CRC-32 state of the block's text, combined into each answer's trailer.
    crc: crc32fast::Hasher,
    /// Bytes of text in the block.
    length: u64,
}

impl EncodedSlots {
    pub fn new(snapshot: &Snapshot) -> Self {
        let mut text = Vec::with_capacity(snapshot.slots.len() * 160);
        let mut starts = Vec::with_capacity(snapshot.slots.len() + 1);
        starts.push(0);
        for record in &snapshot.slots {
            super::json::write_entry(&mut text, snapshot, record);
            text.push(b',');
            starts.push(u32::try_from(text.len()).expect("slot entries stay far below 4 GiB"));
        }
        EncodedSlots { text: Bytes::from(text), starts }
    }

    /// The text from record `from` up to (not including) record `to`'s.
    fn span(&self, from: usize, to: usize) -> &[u8] {
        &self.text[self.starts[from] as usize..self.starts[to] as usize]
    }

    /// The objects of `records`, comma-separated: a slice of the shared text.
    pub(crate) fn joined(&self, records: Range<usize>) -> Bytes {
        if records.is_empty() {
            return Bytes::new();
        }
        // Without the comma that follows the last object.
        self.text.slice(self.starts[records.start] as usize..self.starts[records.end] as usize - 1)
    }

    /// The answer as chunks: its envelope around a slice of the shared text.
    fn identity(&self, reply: &SlotStatsReply) -> Vec<Bytes> {
        vec![Bytes::from(reply.before.clone()), self.joined(reply.records.clone()), Bytes::from(reply.after.clone())]
    }

    fn deflate(&self) -> DeflatedSlots {
        let records = self.starts.len() - 1;
        let blocks = (0..records.div_ceil(BLOCK_RECORDS))
            .map(|k| {
                let text = self.span(k * BLOCK_RECORDS, ((k + 1) * BLOCK_RECORDS).min(records));
                let mut crc = crc32fast::Hasher::new();
                crc.update(text);
                DeflatedBlock { deflated: Bytes::from(deflate_part(&[text], false)), crc, length: text.len() as u64 }
            })
            .collect();
        DeflatedSlots { blocks }
    }

    /// The answer gzipped: the blocks that lie wholly inside its range are shared; the
    /// envelope and the records before and after them are compressed here. The block
    /// holding the last record is never shared, as its text ends with a comma.
    fn gzip(&self, deflated: &DeflatedSlots, reply: &SlotStatsReply) -> Vec<Bytes> {
        let (first, end) = (reply.records.start, reply.records.end);
        let shared = first.div_ceil(BLOCK_RECORDS)..end.saturating_sub(1) / BLOCK_RECORDS;
        let mut crc = crc32fast::Hasher::new();
        let mut length = 0u64;
        let mut chunks = vec![Bytes::from_static(GZIP_HEADER)];
        let mut tail_from = first;
        let tail_start = if shared.is_empty() {
            vec![reply.before.as_bytes()]
        } else {
            let head = [reply.before.as_bytes(), self.span(first, shared.start * BLOCK_RECORDS)];
            chunks.push(Bytes::from(deflate_part(&head, false)));
            head.iter().for_each(|piece| crc.update(piece));
            length += head.iter().map(|p| p.len() as u64).sum::<u64>();
            for block in &deflated.blocks[shared.clone()] {
                chunks.push(block.deflated.clone());
                crc.combine(&block.crc);
                length += block.length;
            }
            tail_from = shared.end * BLOCK_RECORDS;
            Vec::new()
        };
        let records = self.joined(tail_from..end.max(tail_from));
        let tail: Vec<&[u8]> = tail_start.into_iter().chain([&records[..], reply.after.as_bytes()]).collect();
        tail.iter().for_each(|piece| crc.update(piece));
        length += tail.iter().map(|p| p.len() as u64).sum::<u64>();
        let mut last = deflate_part(&tail, true);
        last.extend_from_slice(&gzip_trailer(&crc, length));
        chunks.push(Bytes::from(last));
        chunks
    }
}

/// The encoded (and, once asked for, compressed) slot entries of the latest snapshot,
/// built off the async threads; concurrent requests wait for the one build.
#[derive(Default)]
pub(crate) struct SlotStatsJson {
    last: PerSnapshot<Snapshot, SnapshotEntries>,
}

#[derive(Default)]
struct SnapshotEntries {
    encoded: OnceCell<Arc<EncodedSlots>>,
    deflated: OnceCell<Arc<DeflatedSlots>>,
}

impl SlotStatsJson {
    /// The chunks of a slot-stats answer for the snapshot `served`, gzipped if `gzip`.
    pub(crate) async fn chunks(&self, served: &Served<Snapshot>, reply: SlotStatsReply, gzip: bool) -> Vec<Bytes> {
        let entries = self.last.get(&served.value);
        let encoded = entries
            .encoded
            .get_or_init(|| {
                let snapshot = served.value.clone();
                run_blocking(move || Arc::new(EncodedSlots::new(&snapshot)))
            })
            .await
            .clone();
        if !gzip {
            return encoded.identity(&reply);
        }
        let deflated = entries
            .deflated
            .get_or_init(|| {
                let encoded = encoded.clone();
                run_blocking(move || Arc::new(encoded.deflate()))
            })
            .await
            .clone();
        run_blocking(move || encoded.gzip(&deflated, &reply)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::gzip::tests::gunzip;
    use crate::snapshot::{ClusterState, NodeStatus, Role, SlotRecord, SlotStats};
    use std::time::{Duration, SystemTime};

    fn snapshot(slots: u16) -> Snapshot {
        let node = NodeStatus {
            addr: crate::addr::test_addr("a:1"),
            node_id: String::new(),
            role: Role::Primary,
            slots_served: 1,
            failure: None,
            duration: Duration::ZERO,
            slot_stats_enabled: None,
            version: None,
        };
        let stats = |s: u16| SlotStats { key_count: Some(u64::from(s) * 7), ..Default::default() };
        Snapshot {
            taken_at: SystemTime::UNIX_EPOCH,
            refresh_duration: Duration::ZERO,
            state: ClusterState::Cluster,
            nodes: vec![node],
            slots: (0..slots).map(|slot| SlotRecord { slot, node: 0, stats: stats(slot) }).collect(),
            owners: Vec::new(),
            moves: Default::default(),
        }
    }

    fn reply(records: Range<usize>) -> SlotStatsReply {
        SlotStatsReply { status: 200, before: "{\"slots\":[".into(), records, after: "],\"n\":1}".into() }
    }

    #[test]
    fn gzip_parts_decompress_to_the_identity_answer_for_every_kind_of_range() {
        let encoded = EncodedSlots::new(&snapshot(1000));
        let deflated = encoded.deflate();
        for (first, end) in [(0, 1000), (0, 0), (3, 9), (0, 256), (0, 257), (255, 513), (256, 768), (999, 1000)] {
            let reply = reply(first..end);
            let identity: Vec<u8> = encoded.identity(&reply).concat();
            let zipped: Vec<u8> = encoded.gzip(&deflated, &reply).concat();
            assert_eq!(gunzip(&zipped).as_bytes(), &identity[..], "{first}..{end}");
            let parsed: serde_json::Value = serde_json::from_slice(&identity).unwrap();
            assert_eq!(parsed["slots"].as_array().unwrap().len(), end - first);
        }
    }

    #[test]
    fn whole_blocks_are_shared_between_answers_not_copied() {
        let encoded = EncodedSlots::new(&snapshot(1024));
        let deflated = encoded.deflate();
        let first = encoded.gzip(&deflated, &reply(0..1024));
        let second = encoded.gzip(&deflated, &reply(0..1024));
        // Header, head, three shared blocks, tail.
        assert_eq!(first.len(), 6);
        assert_eq!(first[2].as_ptr(), second[2].as_ptr());
        assert_eq!(encoded.identity(&reply(0..1024))[1].as_ptr(), encoded.text.as_ptr());
    }
}
