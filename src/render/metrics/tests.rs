use super::*;
use crate::aggregate::Aggregator;
use crate::snapshot::{ClusterState, FailureKind, NodeFailure, NodeStatus, Role, SlotRecord, SlotStats, Snapshot};
use std::time::SystemTime;

fn node(addr: &str, up: bool, enabled: Option<bool>) -> NodeStatus {
    NodeStatus {
        addr: crate::addr::test_addr(addr),
        node_id: format!("id-{addr}"),
        role: Role::Primary,
        slots_served: 2,
        failure: (!up).then(|| NodeFailure { kind: FailureKind::Timeout, detail: String::new() }),
        duration: Duration::from_millis(3),
        slot_stats_enabled: enabled,
        version: None,
    }
}

fn full(cpu_usec: u64, keys: u64) -> SlotStats {
    SlotStats {
        key_count: Some(keys),
        cpu_usec: Some(cpu_usec),
        network_bytes_in: Some(10),
        network_bytes_out: Some(20),
        memory_bytes: None,
    }
}

/// a:1 owns slot 0 (full statistics), b:1 slot 9 (keys only), c:1 is down.
fn snapshot_at(seconds: u64, cpu_usec: u64) -> Snapshot {
    let keys_only = SlotStats { key_count: Some(7), ..Default::default() };
    Snapshot {
        taken_at: SystemTime::UNIX_EPOCH + Duration::from_secs(seconds),
        refresh_duration: Duration::from_millis(12),
        state: ClusterState::Cluster,
        nodes: vec![node("a:1", true, Some(true)), node("b:1", true, Some(false)), node("c:1", false, None)],
        slots: vec![
            SlotRecord { slot: 0, node: 0, stats: full(cpu_usec, 5) },
            SlotRecord { slot: 9, node: 1, stats: keys_only },
        ],
        owners: Vec::new(),
        moves: Default::default(),
    }
}

pub(crate) fn observation() -> Arc<Observation> {
    Arc::new(Aggregator::new(128).observe(snapshot_at(1_700_000_000, 1_500_000)))
}

fn exposition(slot_series: SlotSeries) -> Exposition {
    Exposition { ttl: Duration::from_secs(30), slot_series }
}

fn text(observation: Arc<Observation>, slot_series: SlotSeries) -> String {
    render(observation, exposition(slot_series), Format::Text)
}

#[test]
fn text_format_has_every_family_and_no_invented_zeros() {
    let out = text(observation(), SlotSeries::All);
    assert!(out.contains("valkey_slot_keys{node=\"a:1\",slot=\"0\"} 5\n"), "{out}");
    assert!(out.contains("valkey_slot_keys{node=\"b:1\",slot=\"9\"} 7\n"));
    assert!(out.contains("valkey_slot_cpu_seconds_total{node=\"a:1\",slot=\"0\"} 1.5\n"));
    assert!(out.contains("valkey_slot_network_receive_bytes_total{node=\"a:1\",slot=\"0\"} 10\n"));
    assert!(out.contains("valkey_slot_network_transmit_bytes_total{node=\"a:1\",slot=\"0\"} 20\n"));
    assert!(!out.contains("slot=\"9\"} 0"), "keys-only node must have no CPU/network series");
    assert!(!out.contains("valkey_slot_memory_bytes"), "memory is absent when never reported");
    assert!(out.contains("valkey_node_up{node=\"c:1\"} 0\n"));
    assert!(out.contains("valkey_node_slot_stats_enabled{node=\"b:1\"} 0\n"));
    assert!(!out.contains("valkey_node_slot_stats_enabled{node=\"c:1\"}"));
    assert!(
        out.contains("valkey_node_info{node=\"a:1\",node_id=\"id-a:1\",role=\"primary\",server=\"\",version=\"\"} 1\n")
    );
    assert!(
        out.contains("valkey_exporter_last_refresh_timestamp_seconds 1.7e9")
            || out.contains("valkey_exporter_last_refresh_timestamp_seconds 1700000000")
    );
    assert!(out.contains("valkey_exporter_build_info{version=\""));
    assert!(out.contains("valkey_exporter_slot_series{profile=\"all\"} 2\n"));
    assert!(out.contains("cached up to 30s"));
    assert!(!out.contains("cluster="));
    assert!(!out.contains("# EOF"));
}

#[test]
fn node_and_range_sums_are_there_and_absent_where_unknown() {
    let out = text(observation(), SlotSeries::All);
    assert!(out.contains("valkey_node_slot_keys{node=\"a:1\"} 5\n"), "{out}");
    assert!(out.contains("valkey_node_slot_keys{node=\"b:1\"} 7\n"));
    assert!(!out.contains("valkey_node_slot_keys{node=\"c:1\"}"), "a down node's keys are unknown, not 0");
    assert!(out.contains("valkey_node_slot_cpu_seconds_total{node=\"a:1\"} 1.5\n"));
    assert!(!out.contains("valkey_node_slot_cpu_seconds_total{node=\"b:1\"}"), "b reports keys only");
    assert!(out.contains("valkey_node_slot_network_receive_bytes_total{node=\"a:1\"} 10"));
    assert!(out.contains("valkey_slot_range_keys{slot_range=\"00000\"} 12\n"));
    assert!(out.contains("valkey_slot_range_cpu_seconds_total{slot_range=\"00000\"} 1.5\n"));
    assert!(!out.contains("slot_range=\"00128\""), "no slot known there");
    assert!(out.contains("never decreases"), "the HELP text says how the counters are kept");
    assert!(!out.contains("valkey_node_hottest_slot_share"), "no window yet");
}

#[test]
fn the_hottest_slot_appears_once_there_is_a_window() {
    let aggregator = Aggregator::new(128);
    aggregator.observe(snapshot_at(100, 1_000_000));
    let out = text(Arc::new(aggregator.observe(snapshot_at(110, 2_000_000))), SlotSeries::All);
    assert!(out.contains("valkey_node_hottest_slot_share{node=\"a:1\",metric=\"cpu\",slot=\"0\"} 1.0\n"), "{out}");
    assert!(!out.contains("metric=\"network\""), "a:1's network counters did not move");
}

#[test]
fn profiles_choose_the_per_slot_series_and_nothing_else() {
    let all = text(observation(), SlotSeries::All);
    let none = text(observation(), SlotSeries::None);
    let top = text(observation(), SlotSeries::Top(1));
    assert!(!none.contains("valkey_slot_keys{") && !none.contains("valkey_slot_cpu"), "{none}");
    assert!(none.contains("valkey_exporter_slot_series{profile=\"none\"} 0\n"));
    assert!(top.contains("valkey_exporter_slot_series{profile=\"top:1\"} 1\n"), "{top}");
    assert!(top.contains("valkey_slot_keys{node=\"b:1\",slot=\"9\"} 7\n"), "most keys, before there are rates");
    assert!(!top.contains("slot=\"0\"} 5"));
    let strip = |out: &str| out.lines().filter(|l| !l.contains("valkey_slot_") || l.contains("slot_range")).count();
    let comparable = |out: &str| strip(out) - usize::from(out.contains("valkey_exporter_slot_series"));
    assert_eq!(comparable(&all), comparable(&none), "node, range and exporter series are in every profile");
}

#[test]
fn openmetrics_ends_with_eof_and_has_units() {
    let out = render(observation(), exposition(SlotSeries::All), Format::OpenMetrics);
    assert!(out.ends_with("# EOF\n"), "{out}");
    assert!(out.contains("# UNIT valkey_slot_cpu_seconds seconds"));
    assert!(out.contains("valkey_slot_cpu_seconds_total{node=\"a:1\",slot=\"0\"} 1.5\n"));
    assert!(out.contains("valkey_node_slot_cpu_seconds_total{node=\"a:1\"} 1.5\n"));
}

#[test]
fn gzip_bodies_decode_to_the_identity_body() {
    use crate::render::gzip::{gzip, tests::gunzip};
    for format in [Format::Text, Format::OpenMetrics] {
        let identity = render(observation(), exposition(SlotSeries::All), format);
        assert_eq!(gunzip(&render_gzip(observation(), exposition(SlotSeries::All), format)), identity);
        assert_eq!(gunzip(&gzip(identity.as_bytes())), identity);
    }
}
