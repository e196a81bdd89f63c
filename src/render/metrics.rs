//! `/metrics`: a prometheus-client [`Collector`] that renders straight from a snapshot.
//!
//! There are no metric objects kept in step with the cluster: each render walks the
//! immutable snapshot once per family. A value the server did not report is skipped,
//! so a missing statistic is an absent series, never a zero.
//!
//! A snapshot is rendered once per format and encoding ([`super::bodies`]); this file
//! only knows how to write the exposition.

use super::gzip::GzipSink;
use super::negotiate::Format;
use crate::snapshot::{NodeStatus, SlotRecord, SlotStats, Snapshot};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// Renders a whole snapshot in `format`. `ttl` is quoted in HELP texts so readers
/// know the values can be up to that old.
pub fn render(snapshot: Arc<Snapshot>, ttl: Duration, format: Format) -> String {
    let mut out = String::with_capacity(estimated_size(&snapshot));
    render_into(&mut out, snapshot, ttl, format);
    out
}

/// Renders a whole snapshot in `format` straight into gzip, without
/// the uncompressed body ever existing whole: what a Prometheus scrape needs, in an
/// eighth of the memory.
pub fn render_gzip(snapshot: Arc<Snapshot>, ttl: Duration, format: Format) -> Vec<u8> {
    let mut sink = GzipSink::new(estimated_size(&snapshot) / 6);
    render_into(&mut sink, snapshot, ttl, format);
    sink.finish()
}

fn render_into(out: &mut impl fmt::Write, snapshot: Arc<Snapshot>, ttl: Duration, format: Format) {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector { snapshot, ttl }));
    let written = match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(out, &registry),
        Format::OpenMetrics => prometheus_client::encoding::text::encode(out, &registry),
    };
    // Writing into memory cannot fail, and every name and label here is ours.
    written.expect("rendering metrics into memory");
}

/// Room for the whole body up front, so a 5 MB render is not copied at every doubling:
/// a per-slot sample line is under 100 bytes; the rest is a few kilobytes.
fn estimated_size(snapshot: &Snapshot) -> usize {
    let samples: usize =
        SLOT_FAMILIES.iter().map(|f| snapshot.slots.iter().filter(|r| (f.value)(&r.stats).is_some()).count()).sum();
    samples * 96 + snapshot.nodes.len() * 1024 + 16 * 1024
}

#[derive(Debug)]
struct SnapshotCollector {
    snapshot: Arc<Snapshot>,
    ttl: Duration,
}

/// One per-slot family: its name, unit, type, HELP, and the field it shows.
struct SlotFamily {
    name: &'static str,
    unit: Option<Unit>,
    metric_type: MetricType,
    help: &'static str,
    value: fn(&SlotStats) -> Option<SlotValue>,
}

enum SlotValue {
    Int(u64),
    Float(f64),
}

const SLOT_FAMILIES: &[SlotFamily] = &[
    SlotFamily {
        name: "valkey_slot_keys",
        unit: None,
        metric_type: MetricType::Gauge,
        help: "Keys in the slot (CLUSTER SLOT-STATS key-count).",
        value: |s| s.key_count.map(SlotValue::Int),
    },
    SlotFamily {
        name: "valkey_slot_cpu",
        unit: Some(Unit::Seconds),
        metric_type: MetricType::Counter,
        help: "CPU time spent on the slot's commands since the slot came to this node (cpu-usec / 1e6).",
        value: |s| s.cpu_usec.map(|u| SlotValue::Float(u as f64 / 1e6)),
    },
    SlotFamily {
        name: "valkey_slot_network_receive",
        unit: Some(Unit::Bytes),
        metric_type: MetricType::Counter,
        help: "Bytes received for the slot's commands (network-bytes-in).",
        value: |s| s.network_bytes_in.map(SlotValue::Int),
    },
    SlotFamily {
        name: "valkey_slot_network_transmit",
        unit: Some(Unit::Bytes),
        metric_type: MetricType::Counter,
        help: "Bytes sent for the slot's commands (network-bytes-out).",
        value: |s| s.network_bytes_out.map(SlotValue::Int),
    },
    SlotFamily {
        name: "valkey_slot_memory",
        unit: Some(Unit::Bytes),
        metric_type: MetricType::Gauge,
        help: "Memory used by the slot's keys (memory-bytes, Redis 8.2+).",
        value: |s| s.memory_bytes.map(SlotValue::Int),
    },
];

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let cached = format!(" Served from a snapshot cached up to {}.", humantime::format_duration(self.ttl));
        for family in SLOT_FAMILIES {
            self.encode_slot_family(&mut encoder, family, &cached)?;
        }
        self.encode_node_families(&mut encoder, &cached)?;
        self.encode_exporter_families(&mut encoder)
    }
}

impl SnapshotCollector {
    fn encode_slot_family(&self, encoder: &mut DescriptorEncoder, family: &SlotFamily, cached: &str) -> fmt::Result {
        let snapshot = &self.snapshot;
        let mut series = snapshot.slots.iter().filter_map(|r| (family.value)(&r.stats).map(|v| (r, v))).peekable();
        if series.peek().is_none() {
            return Ok(());
        }
        let help = format!("{}{cached}", family.help);
        let mut metric = encoder.encode_descriptor(family.name, &help, family.unit.as_ref(), family.metric_type)?;
        for (record, value) in series {
            let labels = slot_labels(snapshot, record);
            let mut sample = metric.encode_family(&labels)?;
            match (family.metric_type, value) {
                (MetricType::Counter, SlotValue::Int(v)) => sample.encode_counter::<NoLabelSet, _, u64>(&v, None)?,
                (MetricType::Counter, SlotValue::Float(v)) => sample.encode_counter::<NoLabelSet, _, f64>(&v, None)?,
                (_, SlotValue::Int(v)) => sample.encode_gauge(&v)?,
                (_, SlotValue::Float(v)) => sample.encode_gauge(&v)?,
            }
        }
        Ok(())
    }

    fn encode_node_families(&self, encoder: &mut DescriptorEncoder, cached: &str) -> fmt::Result {
        let nodes = &self.snapshot.nodes;
        node_gauge(
            encoder,
            nodes,
            "valkey_node_up",
            None,
            "1 if the node answered the last refresh, else 0.",
            cached,
            |n| Some(i64::from(n.is_up())),
        )?;
        node_gauge(
            encoder,
            nodes,
            "valkey_node_slots",
            None,
            "Slots the node serves (a replica: its primary's).",
            cached,
            |n| Some(i64::from(n.slots_served)),
        )?;
        node_gauge(
            encoder,
            nodes,
            "valkey_node_slot_stats_enabled",
            None,
            "1 if the node reports per-slot CPU and network (cluster-slot-stats-enabled yes), 0 if only key counts; absent when unknown.",
            cached,
            |n| n.slot_stats_enabled.map(i64::from),
        )?;
        node_gauge(
            encoder,
            nodes,
            "valkey_node_scrape_duration",
            Some(Unit::Seconds),
            "Time the node took to answer (or fail) in the last refresh.",
            cached,
            |n| Some(n.duration.as_secs_f64()),
        )?;
        let help = format!("Node identity and role; value is always 1.{cached}");
        let mut info = encoder.encode_descriptor("valkey_node", &help, None, MetricType::Info)?;
        for node in nodes {
            info.encode_info(&[
                ("node", node.addr.as_str()),
                ("node_id", &node.node_id),
                ("role", node.role.as_str()),
            ])?;
        }
        Ok(())
    }

    fn encode_exporter_families(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let snapshot = &self.snapshot;
        let taken_at = snapshot.taken_at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        encoder
            .encode_descriptor(
                "valkey_exporter_last_refresh_timestamp",
                "Unix time when the snapshot being served was taken.",
                Some(&Unit::Seconds),
                MetricType::Gauge,
            )?
            .encode_gauge(&taken_at)?;
        encoder
            .encode_descriptor(
                "valkey_exporter_refresh_duration",
                "How long the refresh that took the snapshot being served lasted.",
                Some(&Unit::Seconds),
                MetricType::Gauge,
            )?
            .encode_gauge(&snapshot.refresh_duration.as_secs_f64())?;
        encoder
            .encode_descriptor("valkey_exporter_build", "Exporter version; value is always 1.", None, MetricType::Info)?
            .encode_info(&[("version", env!("CARGO_PKG_VERSION"))])
    }
}

/// One `{node}` gauge family; nodes for which `value` is `None` get no series.
fn node_gauge<V: EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    nodes: &[NodeStatus],
    name: &str,
    unit: Option<Unit>,
    help: &str,
    cached: &str,
    value: impl Fn(&NodeStatus) -> Option<V>,
) -> fmt::Result {
    let help = format!("{help}{cached}");
    let mut metric = encoder.encode_descriptor(name, &help, unit.as_ref(), MetricType::Gauge)?;
    for node in nodes {
        if let Some(v) = value(node) {
            metric.encode_family(&[("node", node.addr.as_str())])?.encode_gauge(&v)?;
        }
    }
    Ok(())
}

/// `node` then `slot`: two label sets of different value types, encoded without allocating.
type SlotLabels<'a> = ([(&'static str, &'a str); 1], [(&'static str, u16); 1]);

fn slot_labels<'a>(snapshot: &'a Snapshot, record: &SlotRecord) -> SlotLabels<'a> {
    ([("node", snapshot.node(record).addr.as_str())], [("slot", record.slot)])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::snapshot::{ClusterState, FailureKind, NodeFailure, Role};
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
        }
    }

    pub(crate) fn snapshot() -> Arc<Snapshot> {
        let full = SlotStats {
            key_count: Some(5),
            cpu_usec: Some(1_500_000),
            network_bytes_in: Some(10),
            network_bytes_out: Some(20),
            memory_bytes: None,
        };
        let keys_only = SlotStats { key_count: Some(7), ..Default::default() };
        Arc::new(Snapshot {
            taken_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            refresh_duration: Duration::from_millis(12),
            state: ClusterState::Cluster,
            nodes: vec![node("a:1", true, Some(true)), node("b:1", true, Some(false)), node("c:1", false, None)],
            slots: vec![
                SlotRecord { slot: 0, node: 0, stats: full },
                SlotRecord { slot: 9, node: 1, stats: keys_only },
            ],
        })
    }

    #[test]
    fn text_format_has_every_family_and_no_invented_zeros() {
        let out = render(snapshot(), Duration::from_secs(30), Format::Text);
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
        assert!(out.contains("valkey_node_info{node=\"a:1\",node_id=\"id-a:1\",role=\"primary\"} 1\n"));
        assert!(
            out.contains("valkey_exporter_last_refresh_timestamp_seconds 1.7e9")
                || out.contains("valkey_exporter_last_refresh_timestamp_seconds 1700000000")
        );
        assert!(out.contains("valkey_exporter_build_info{version=\""));
        assert!(out.contains("cached up to 30s"));
        assert!(!out.contains("cluster="));
        assert!(!out.contains("# EOF"));
    }

    #[test]
    fn openmetrics_ends_with_eof_and_has_units() {
        let out = render(snapshot(), Duration::from_secs(30), Format::OpenMetrics);
        assert!(out.ends_with("# EOF\n"), "{out}");
        assert!(out.contains("# UNIT valkey_slot_cpu_seconds seconds"));
        assert!(out.contains("valkey_slot_cpu_seconds_total{node=\"a:1\",slot=\"0\"} 1.5\n"));
    }

    #[test]
    fn gzip_bodies_decode_to_the_identity_body() {
        use crate::render::gzip::{gzip, tests::gunzip};
        for format in [Format::Text, Format::OpenMetrics] {
            let identity = render(snapshot(), Duration::from_secs(30), format);
            assert_eq!(gunzip(&render_gzip(snapshot(), Duration::from_secs(30), format)), identity);
            assert_eq!(gunzip(&gzip(identity.as_bytes())), identity);
        }
    }
}
