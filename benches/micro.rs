//! Micro-benchmarks of the steps between a node's reply and a scrape's bytes: decode
//! (fred's codec, then the exporter's walk of the frames), merge, render, gzip and the
//! JSON encoding. Inputs are synthetic but shaped like a real 3-primary cluster with
//! slot statistics on: 16,384 slots, four statistics each, ~600 KB of RESP2 per node.
//!
//! Run: `cargo bench --bench micro` (scripts/bench.sh runs it too). Under `cargo test`
//! each benchmark runs once, as a smoke test.

use bytes::BytesMut;
use divan::Bencher;
use fred::types::{Resp3Frame, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use valkey_slot_exporter::for_benchmarks::{
    Aggregator, ClusterState, EncodedSlots, Exposition, Format, NodeAnswer, Observation, Served, SlotSeries, SlotStats,
    Snapshot, Topology, gzip, merge, parse_slot_stats, render, render_gzip, render_without_aggregates, slot_stats_from,
};

const PRIMARIES: u16 = 3;
const SLOTS: u32 = 16384;
/// Slots of the first primary, as `valkey-cli --cluster create` splits them.
const NODE_SLOTS: std::ops::Range<u16> = 0..5461;
/// fred's socket reads arrive in pieces of about this size (measured with a
/// tokio-util `Framed`, which fred uses, against Valkey 8 on loopback).
const READ_SIZE: usize = 128 * 1024;

fn main() {
    // `cargo bench` passes --bench. `cargo test --all-targets` passes test-harness flags
    // divan does not know (--test-threads): run each benchmark once as a smoke test.
    if std::env::args().any(|a| a == "--bench") {
        divan::main();
    } else {
        divan::Divan::default().test_benches();
    }
}

/// Statistics that look like a busy slot's, with realistic digit counts.
fn stats(slot: u16) -> SlotStats {
    let s = u64::from(slot);
    SlotStats {
        key_count: Some((s * 7 + 3) % 11 * 1000),
        cpu_usec: Some(1_000_000 + s * 37),
        network_bytes_in: Some(5_000_000 + s * 101),
        network_bytes_out: Some(9_000_000 + s * 211),
        memory_bytes: None,
    }
}

/// One node's RESP2 reply to `CLUSTER SLOT-STATS SLOTSRANGE 0 16383`, as Valkey 8 sends it.
fn resp2_reply(slots: std::ops::Range<u16>) -> Vec<u8> {
    let mut out = format!("*{}\r\n", slots.len()).into_bytes();
    for slot in slots {
        let s = stats(slot);
        let fields = [
            ("key-count", s.key_count),
            ("cpu-usec", s.cpu_usec),
            ("network-bytes-in", s.network_bytes_in),
            ("network-bytes-out", s.network_bytes_out),
        ];
        out.extend_from_slice(format!("*2\r\n:{slot}\r\n*8\r\n").as_bytes());
        for (name, value) in fields {
            let value = value.unwrap_or_default();
            out.extend_from_slice(format!("${}\r\n{name}\r\n:{value}\r\n", name.len()).as_bytes());
        }
    }
    out
}

/// What fred's codec does with a complete reply: decode, then convert to a RESP3 frame.
fn fred_decode(bytes: &[u8]) -> Resp3Frame {
    let mut buf = BytesMut::from(bytes);
    let (frame, _, _) = redis_protocol::resp2::decode::decode_bytes_mut(&mut buf).expect("valid").expect("complete");
    frame.into_resp3()
}

#[divan::bench]
fn decode_fred_codec_whole_reply(bencher: Bencher) {
    let bytes = resp2_reply(NODE_SLOTS);
    bencher.counter(divan::counter::BytesCount::new(bytes.len())).bench(|| fred_decode(&bytes));
}

/// fred's codec starts decoding from the reply's first byte each time more bytes arrive;
/// this is what one node's reply costs when it arrives in [`READ_SIZE`] reads.
#[divan::bench]
fn decode_fred_codec_as_reads_arrive(bencher: Bencher) {
    let bytes = resp2_reply(NODE_SLOTS);
    bencher.bench(|| {
        let mut end = READ_SIZE;
        loop {
            let mut buf = BytesMut::from(&bytes[..end.min(bytes.len())]);
            if let Some((frame, _, _)) = redis_protocol::resp2::decode::decode_bytes_mut(&mut buf).expect("valid") {
                return frame.into_resp3();
            }
            end += READ_SIZE;
        }
    });
}

/// The exporter's own share: walking fred's frames into slot records.
#[divan::bench]
fn decode_walk_frames(bencher: Bencher) {
    let frame = fred_decode(&resp2_reply(NODE_SLOTS));
    bencher.bench(|| parse_slot_stats(&frame).expect("valid"));
}

/// The floor for any decoder: one pass over the bytes.
#[divan::bench]
fn decode_scan_bytes(bencher: Bencher) {
    let bytes = resp2_reply(NODE_SLOTS);
    bencher.bench(|| bytes.iter().filter(|&&b| b == b'\n').count());
}

fn topology() -> Topology {
    let node = |port: i64| {
        Value::Array(vec![
            Value::String("127.0.0.1".into()),
            Value::Integer(port),
            Value::String(format!("id{port}").into()),
        ])
    };
    let ranges = (0..PRIMARIES)
        .map(|i| {
            let (first, last) = share(i);
            Value::Array(vec![Value::Integer(first.into()), Value::Integer(last.into()), node(7000 + i64::from(i))])
        })
        .collect();
    Topology::from_cluster_slots(Value::Array(ranges), "127.0.0.1").expect("valid topology")
}

/// The slots primary `i` of [`PRIMARIES`] owns.
fn share(i: u16) -> (u16, u16) {
    let (i, n) = (u32::from(i), u32::from(PRIMARIES));
    ((i * SLOTS / n) as u16, ((i + 1) * SLOTS / n - 1) as u16)
}

fn answers() -> Vec<NodeAnswer> {
    (0..PRIMARIES)
        .map(|i| {
            let (first, last) = share(i);
            let rows = (first..=last).map(|slot| (slot, stats(slot))).collect();
            NodeAnswer { index: usize::from(i), duration: Duration::from_millis(3), result: Ok(rows), version: None }
        })
        .collect()
}

#[divan::bench]
fn merge_three_primaries(bencher: Bencher) {
    let topology = topology();
    bencher.with_inputs(answers).bench_local_values(|answers| merge(&topology, answers));
}

fn snapshot_taken(at: SystemTime) -> Snapshot {
    let topology = topology();
    let merged = merge(&topology, answers());
    Snapshot {
        taken_at: at,
        refresh_duration: Duration::from_millis(20),
        state: ClusterState::Cluster,
        nodes: merged.nodes,
        slots: merged.slots,
        owners: merged.owners,
        moves: Default::default(),
    }
}

fn snapshot() -> Arc<Snapshot> {
    Arc::new(snapshot_taken(SystemTime::now()))
}

/// The second observation of the same cluster: with a rate window, as in steady state.
fn observation() -> Arc<Observation> {
    let aggregator = Aggregator::new(128);
    aggregator.observe(snapshot_taken(SystemTime::now() - Duration::from_secs(30)));
    Arc::new(aggregator.observe(snapshot_taken(SystemTime::now())))
}

fn exposition(slot_series: SlotSeries) -> Exposition {
    Exposition { ttl: Duration::from_secs(30), slot_series }
}

/// Folding a snapshot into the running aggregates (counters, rates), once per refresh.
#[divan::bench]
fn aggregate_fold(bencher: Bencher) {
    let aggregator = Aggregator::new(128);
    aggregator.observe(snapshot_taken(SystemTime::now()));
    bencher.with_inputs(|| snapshot_taken(SystemTime::now())).bench_local_values(|s| aggregator.observe(s));
}

#[divan::bench(args = [Format::Text, Format::OpenMetrics])]
fn render_metrics(bencher: Bencher, format: Format) {
    let observation = observation();
    bencher.bench(|| render(observation.clone(), exposition(SlotSeries::All), format));
}

/// The exposition as it was before the node and range aggregates: the baseline the
/// aggregates' cost is compared with.
#[divan::bench(args = [Format::Text])]
fn render_metrics_without_aggregates(bencher: Bencher, format: Format) {
    let observation = observation();
    bencher.bench(|| render_without_aggregates(observation.clone(), exposition(SlotSeries::All), format));
}

#[divan::bench(args = ["top:100", "none"])]
fn render_metrics_profile(bencher: Bencher, profile: &str) {
    let observation = observation();
    let profile: SlotSeries = profile.parse().expect("profile");
    bencher.bench(|| render(observation.clone(), exposition(profile), Format::Text));
}

#[divan::bench]
fn gzip_metrics_text(bencher: Bencher) {
    let body = render(observation(), exposition(SlotSeries::All), Format::Text);
    bencher.counter(divan::counter::BytesCount::new(body.len())).bench(|| gzip(body.as_bytes()));
}

/// Rendering straight into gzip, as a Prometheus scrape of a new snapshot does.
#[divan::bench]
fn render_gzip_metrics_text(bencher: Bencher) {
    let observation = observation();
    bencher.bench(|| render_gzip(observation.clone(), exposition(SlotSeries::All), Format::Text));
}

#[divan::bench]
fn json_encode_all_entries(bencher: Bencher) {
    let snapshot = snapshot();
    bencher.bench(|| EncodedSlots::new(&snapshot));
}

/// A full-range JSON answer once the entries are encoded: envelope plus one copy.
#[divan::bench]
fn json_answer_full_range(bencher: Bencher) {
    let snapshot = snapshot();
    let encoded = EncodedSlots::new(&snapshot);
    let served = Served { value: snapshot, cached: true };
    bencher.bench(|| slot_stats_from(&served, &encoded, 0..=16383, SystemTime::now()));
}
