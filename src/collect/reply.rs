//! Asking for `CLUSTER SLOT-STATS` and parsing the replies into per-slot records.
//!
//! The reply is an array of `[slot, stats]` pairs. Under RESP2 `stats` is a flat
//! `name, value, name, value…` array; under RESP3 it is a map. Fields are matched by
//! name, so the order does not matter, fields the exporter does not know (Valkey may
//! add some) are skipped, and `memory-bytes` (Redis 8.2+) is kept.
//!
//! Replies are walked as fred's raw frames ([`Resp3Frame`], which is what fred hands
//! over for RESP2 replies too), not converted into `Value`s first: a node's full reply
//! holds ~50,000 elements, and the conversion cost several times what the server spends
//! producing them. Nothing is allocated per slot besides the output record.

use crate::snapshot::{MAX_SLOT, SlotStats};
use fred::types::Resp3Frame;

/// A reply that is not shaped like CLUSTER SLOT-STATS output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected CLUSTER SLOT-STATS reply: {0}")]
pub struct ReplyError(pub String);

/// Parses a whole reply into `(slot, stats)` pairs, in the order the server sent them.
pub fn parse_slot_stats(reply: &Resp3Frame) -> Result<Vec<(u16, SlotStats)>, ReplyError> {
    let mut out = Vec::new();
    parse_slot_stats_into(reply, &mut out)?;
    Ok(out)
}

/// Like [`parse_slot_stats`], appending to `out`: the replies to one node's several
/// commands end up in one list.
pub(crate) fn parse_slot_stats_into(reply: &Resp3Frame, out: &mut Vec<(u16, SlotStats)>) -> Result<(), ReplyError> {
    let entries = match reply {
        Resp3Frame::Array { data, .. } => data,
        Resp3Frame::Null => return Ok(()),
        other => return Err(ReplyError(format!("expected an array, got {}", kind(other)))),
    };
    out.reserve(entries.len());
    for entry in entries {
        out.push(parse_entry(entry)?);
    }
    Ok(())
}

fn parse_entry(entry: &Resp3Frame) -> Result<(u16, SlotStats), ReplyError> {
    let Resp3Frame::Array { data: pair, .. } = entry else {
        return Err(ReplyError(format!("expected a [slot, stats] pair, got {}", kind(entry))));
    };
    let [slot, stats] = pair.as_slice() else {
        return Err(ReplyError(format!("expected 2 elements per slot, got {}", pair.len())));
    };
    let slot = as_u64(slot)
        .filter(|s| *s <= u64::from(MAX_SLOT))
        .ok_or_else(|| ReplyError(format!("invalid slot number {slot:?}")))? as u16;
    let mut parsed = SlotStats::default();
    match stats {
        Resp3Frame::Array { data: flat, .. } => {
            if flat.len() % 2 != 0 {
                return Err(ReplyError(format!("slot {slot}: odd number of name/value elements")));
            }
            for pair in flat.chunks_exact(2) {
                set_field(&mut parsed, &pair[0], &pair[1], slot)?;
            }
        }
        Resp3Frame::Map { data: map, .. } => {
            for (name, value) in map {
                set_field(&mut parsed, name, value, slot)?;
            }
        }
        other => return Err(ReplyError(format!("slot {slot}: expected stats array or map, got {}", kind(other)))),
    }
    Ok((slot, parsed))
}

fn set_field(stats: &mut SlotStats, name: &Resp3Frame, value: &Resp3Frame, slot: u16) -> Result<(), ReplyError> {
    let target = match text(name) {
        Some(b"key-count") => &mut stats.key_count,
        Some(b"cpu-usec") => &mut stats.cpu_usec,
        Some(b"network-bytes-in") => &mut stats.network_bytes_in,
        Some(b"network-bytes-out") => &mut stats.network_bytes_out,
        Some(b"memory-bytes") => &mut stats.memory_bytes,
        // Fields added by later server versions must not break older exporters.
        _ => return Ok(()),
    };
    let n = as_u64(value).ok_or_else(|| {
        let name = String::from_utf8_lossy(text(name).unwrap_or_default());
        ReplyError(format!("slot {slot}: field {name} is not a count"))
    })?;
    *target = Some(n);
    Ok(())
}

/// A frame's RESP type, for error messages.
pub(super) fn kind(frame: &Resp3Frame) -> &'static str {
    match frame {
        Resp3Frame::Array { .. } => "array",
        Resp3Frame::Map { .. } => "map",
        Resp3Frame::Number { .. } => "integer",
        Resp3Frame::BlobString { .. } | Resp3Frame::SimpleString { .. } => "string",
        Resp3Frame::Null => "null",
        Resp3Frame::SimpleError { .. } | Resp3Frame::BlobError { .. } => "error",
        _ => "other",
    }
}

/// The bytes of a string frame.
pub(super) fn text(frame: &Resp3Frame) -> Option<&[u8]> {
    match frame {
        Resp3Frame::BlobString { data, .. } | Resp3Frame::SimpleString { data, .. } => Some(data),
        _ => None,
    }
}

/// Counts arrive as integers, but accept their decimal string form too (some proxies
/// and RESP2 bridges stringify).
pub(super) fn as_u64(frame: &Resp3Frame) -> Option<u64> {
    match frame {
        Resp3Frame::Number { data, .. } => u64::try_from(*data).ok(),
        other => parse_decimal(text(other)?),
    }
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        let digit = d.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::frames_for_tests::{bulk, resp2, resp3};
    use bytes::{Bytes, BytesMut};

    /// `*2 :slot *2n name :value…` in RESP2.
    fn resp2_entry(slot: i64, fields: &[(&str, i64)]) -> String {
        let flat: String = fields.iter().map(|(k, v)| format!("{}:{v}\r\n", bulk(k))).collect();
        format!("*2\r\n:{slot}\r\n*{}\r\n{flat}", fields.len() * 2)
    }

    /// `*2 :slot %n name :value…` in RESP3.
    fn resp3_entry(slot: i64, fields: &[(&str, i64)]) -> String {
        let map: String = fields.iter().map(|(k, v)| format!("{}:{v}\r\n", bulk(k))).collect();
        format!("*2\r\n:{slot}\r\n%{}\r\n{map}", fields.len())
    }

    fn array(entries: &[String]) -> String {
        format!("*{}\r\n{}", entries.len(), entries.concat())
    }

    const FULL: &[(&str, i64)] =
        &[("key-count", 3), ("cpu-usec", 150), ("network-bytes-in", 20), ("network-bytes-out", 40)];

    fn full_stats() -> SlotStats {
        SlotStats {
            key_count: Some(3),
            cpu_usec: Some(150),
            network_bytes_in: Some(20),
            network_bytes_out: Some(40),
            memory_bytes: None,
        }
    }

    #[test]
    fn resp2_flat_fields() {
        let reply = resp2(&array(&[resp2_entry(0, FULL), resp2_entry(16383, &[("key-count", 0)])]));
        let parsed = parse_slot_stats(&reply).unwrap();
        assert_eq!(parsed[0], (0, full_stats()));
        assert_eq!(parsed[1], (16383, SlotStats { key_count: Some(0), ..Default::default() }));
    }

    #[test]
    fn resp3_map_fields() {
        let parsed = parse_slot_stats(&resp3(&array(&[resp3_entry(42, FULL)]))).unwrap();
        assert_eq!(parsed, vec![(42, full_stats())]);
    }

    #[test]
    fn memory_bytes_kept_and_unknown_fields_ignored_in_both_protocols() {
        let fields = &[("repl-stream-bytes", 9), ("key-count", 1), ("memory-bytes", 4096), ("future", 1)];
        for reply in [resp2(&array(&[resp2_entry(7, fields)])), resp3(&array(&[resp3_entry(7, fields)]))] {
            let parsed = parse_slot_stats(&reply).unwrap();
            let expected = SlotStats { key_count: Some(1), memory_bytes: Some(4096), ..Default::default() };
            assert_eq!(parsed, vec![(7, expected)]);
        }
    }

    #[test]
    fn field_order_does_not_matter() {
        let reversed: Vec<_> = FULL.iter().rev().copied().collect();
        let parsed = parse_slot_stats(&resp2(&array(&[resp2_entry(1, &reversed)]))).unwrap();
        assert_eq!(parsed[0].1, full_stats());
    }

    #[test]
    fn stringified_counts_are_accepted() {
        let reply = resp2("*1\r\n*2\r\n$1\r\n5\r\n*2\r\n$9\r\nkey-count\r\n$2\r\n12\r\n");
        assert_eq!(
            parse_slot_stats(&reply).unwrap(),
            vec![(5, SlotStats { key_count: Some(12), ..Default::default() })]
        );
    }

    #[test]
    fn replies_to_several_commands_append() {
        let mut out = Vec::new();
        parse_slot_stats_into(&resp2(&array(&[resp2_entry(1, FULL)])), &mut out).unwrap();
        parse_slot_stats_into(&resp2(&array(&[resp2_entry(2, FULL)])), &mut out).unwrap();
        assert_eq!(out.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn empty_and_null_replies_have_no_slots() {
        assert!(parse_slot_stats(&resp2("*0\r\n")).unwrap().is_empty());
        assert!(parse_slot_stats(&resp2("$-1\r\n")).unwrap().is_empty());
        assert!(parse_slot_stats(&Resp3Frame::Null).unwrap().is_empty());
    }

    #[test]
    fn malformed_replies_are_errors_not_panics() {
        assert!(parse_slot_stats(&resp2("+OK\r\n")).is_err());
        assert!(parse_slot_stats(&resp2("*1\r\n:1\r\n")).is_err());
        assert!(parse_slot_stats(&resp2(&array(&[resp2_entry(16384, FULL)]))).is_err());
        assert!(parse_slot_stats(&resp2(&array(&[resp2_entry(-1, FULL)]))).is_err());
        assert!(parse_slot_stats(&resp2("*1\r\n*2\r\n:1\r\n*1\r\n$9\r\nkey-count\r\n")).is_err(), "odd fields");
        assert!(parse_slot_stats(&resp2("*1\r\n*2\r\n:1\r\n*2\r\n$9\r\nkey-count\r\n$1\r\nx\r\n")).is_err());
        assert!(parse_slot_stats(&resp2("*1\r\n*2\r\n:1\r\n*2\r\n$9\r\nkey-count\r\n:-3\r\n")).is_err());
        assert!(parse_slot_stats(&resp2("*1\r\n*3\r\n:1\r\n*0\r\n*0\r\n")).is_err(), "three elements");
        let overflow = "*1\r\n*2\r\n:1\r\n*2\r\n$9\r\nkey-count\r\n$20\r\n99999999999999999999\r\n";
        assert!(parse_slot_stats(&resp2(overflow)).is_err());
    }

    /// A small deterministic generator, so failures reproduce.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A random frame tree biased towards SLOT-STATS-like shapes and edge values.
    fn arbitrary_frame(rng: &mut XorShift, depth: u32) -> Resp3Frame {
        const NAMES: [&str; 7] = ["key-count", "cpu-usec", "memory-bytes", "network-bytes-in", "", "x", "key-count\0"];
        const NUMBERS: [i64; 6] = [0, 1, -1, 16383, 16384, i64::MIN];
        let leaf = depth == 0 || rng.below(3) == 0;
        match rng.below(if leaf { 6 } else { 9 }) {
            0 => Resp3Frame::Number { data: NUMBERS[rng.below(6) as usize], attributes: None },
            1 => Resp3Frame::Number { data: rng.next() as i64, attributes: None },
            2 => Resp3Frame::BlobString {
                data: Bytes::from_static(NAMES[rng.below(7) as usize].as_bytes()),
                attributes: None,
            },
            3 => Resp3Frame::SimpleString { data: Bytes::from(rng.next().to_string()), attributes: None },
            4 => Resp3Frame::Null,
            5 => Resp3Frame::Double { data: f64::NAN, attributes: None },
            6 | 7 => {
                let len = rng.below(5) as usize;
                let data = (0..len).map(|_| arbitrary_frame(rng, depth - 1)).collect();
                Resp3Frame::Array { data, attributes: None }
            }
            _ => {
                let len = rng.below(3) as usize;
                let data = (0..len).map(|_| (arbitrary_frame(rng, 0), arbitrary_frame(rng, depth - 1))).collect();
                Resp3Frame::Map { data, attributes: None }
            }
        }
    }

    #[test]
    fn arbitrary_frames_never_panic() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let _ = parse_slot_stats(&arbitrary_frame(&mut rng, 4));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let valid = array(&[resp2_entry(3, FULL), resp2_entry(9, &[("memory-bytes", 7)])]);
        let mut rng = XorShift(42);
        for _ in 0..5_000 {
            let mut bytes = valid.clone().into_bytes();
            for _ in 0..=rng.below(4) {
                let at = rng.below(bytes.len() as u64) as usize;
                const ALPHABET: &[u8] = b"*:$%+-\r\n0123456789abc";
                bytes[at] = ALPHABET[rng.below(ALPHABET.len() as u64) as usize];
            }
            bytes.truncate(rng.below(bytes.len() as u64 + 1) as usize);
            let mut buf = BytesMut::from(&bytes[..]);
            if let Ok(Some((frame, _, _))) = redis_protocol::resp2::decode::decode_bytes_mut(&mut buf) {
                let _ = parse_slot_stats(&frame.into_resp3());
            }
            let mut buf = BytesMut::from(&bytes[..]);
            if let Ok(Some((frame, _, _))) = redis_protocol::resp3::decode::complete::decode_bytes_mut(&mut buf) {
                let _ = parse_slot_stats(&frame);
            }
        }
    }
}
