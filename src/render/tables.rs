//! Plain-text tables for the one-shot commands: what a person reads in a terminal,
//! numbers with units (`1.2 ms/s`, `3.4 MB/s`), unknown values as `-`.

use super::json::rfc3339_millis;
use crate::aggregate::Observation;
use crate::insight::Rebalance;
use crate::insight::balance::Balance;
use crate::insight::commands::Kind;
use crate::insight::hot::HotSlots;
use crate::insight::stats::Imbalance;
use crate::question::{Measure, PlanQuestion};
use std::fmt::Write as _;

/// CPU µs per second as time per second: `850 µs/s`, `1.2 ms/s`, `2.03 s/s`.
pub(crate) fn cpu_rate(usec_per_sec: Option<f64>) -> String {
    match usec_per_sec {
        None => "-".into(),
        Some(v) if v < 1_000.0 => format!("{} µs/s", significant(v)),
        Some(v) if v < 1_000_000.0 => format!("{} ms/s", significant(v / 1e3)),
        Some(v) => format!("{} s/s", significant(v / 1e6)),
    }
}

/// Bytes per second with a decimal prefix: `512 B/s`, `3.4 MB/s`.
pub(crate) fn byte_rate(bytes_per_sec: Option<f64>) -> String {
    let Some(mut v) = bytes_per_sec else { return "-".into() };
    for unit in ["B/s", "kB/s", "MB/s", "GB/s"] {
        if v < 1_000.0 {
            return format!("{} {unit}", significant(v));
        }
        v /= 1_000.0;
    }
    format!("{} TB/s", significant(v))
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "-".into(), |s| format!("{:.1}%", s * 100.0))
}

pub(crate) fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

fn count(value: Option<u64>) -> String {
    value.map_or_else(|| "-".into(), |v| v.to_string())
}

/// Three significant digits, without trailing noise.
fn significant(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn basis(observation: &Observation) -> String {
    let window = observation.window.seconds.map_or_else(|| "no window yet".into(), |s| format!("window {s:.1} s"));
    format!("{window}, snapshot {}", rfc3339_millis(observation.snapshot.taken_at))
}

pub(crate) fn hot_slots(observation: &Observation, hot: &HotSlots) -> String {
    let snapshot = &observation.snapshot;
    let mut out = format!("Hottest slots by {} ({})\n", hot.measure.title(), basis(observation));
    if let Some(note) = hot.note {
        let _ = writeln!(out, "  {note}");
        return out;
    }
    let _ = writeln!(
        out,
        "  {:>5}  {:<22} {:>7}  {:>11}  {:>11}  {:>11}  {:>7}  {:>10}",
        "slot", "node", "keys", "cpu", "net in", "net out", "of node", "of cluster"
    );
    for entry in &hot.entries {
        let record = &snapshot.slots[entry.position];
        let rates = observation.window.rates[entry.position].unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:>5}  {:<22} {:>7}  {:>11}  {:>11}  {:>11}  {:>7}  {:>10}",
            record.slot,
            snapshot.node(record).addr.as_str(),
            count(record.stats.key_count),
            cpu_rate(rates.cpu_usec),
            byte_rate(rates.network_bytes_in),
            byte_rate(rates.network_bytes_out),
            percent(entry.share_of_node),
            percent(entry.share_of_cluster),
        );
    }
    out
}

pub(crate) fn balance(observation: &Observation, balance: &Balance) -> String {
    let nodes = &observation.snapshot.nodes;
    let mut out = format!("Balance across {} primaries ({})\n", balance.primaries.len(), basis(observation));
    let _ = writeln!(
        out,
        "  {:<22} {:>6} {:>8} {:>7}  {:>11} {:>7}  {:>11} {:>7}",
        "node", "slots", "keys", "keys%", "cpu", "cpu%", "network", "net%"
    );
    for p in &balance.primaries {
        let name = if nodes[p.node].is_up() {
            nodes[p.node].addr.to_string()
        } else {
            format!("{} (down)", nodes[p.node].addr)
        };
        let _ = writeln!(
            out,
            "  {:<22} {:>6} {:>8} {:>7}  {:>11} {:>7}  {:>11} {:>7}",
            name,
            p.slots,
            count(p.keys),
            percent(p.keys_share),
            cpu_rate(p.cpu_usec_per_sec),
            percent(p.cpu_share),
            byte_rate(p.network_bytes_per_sec),
            percent(p.network_share),
        );
    }
    let line = |name: &str, i: &Imbalance| {
        format!(
            "  {name:<8} max/mean {}  gini {}  cv {}\n",
            ratio(i.max_over_mean),
            ratio(i.gini),
            ratio(i.coefficient_of_variation)
        )
    };
    out.push_str(&line("keys", &balance.keys));
    out.push_str(&line("cpu", &balance.cpu));
    out.push_str(&line("network", &balance.network));
    out
}

pub(crate) fn plan(observation: &Observation, question: &PlanQuestion, rebalance: &Rebalance) -> String {
    let Rebalance { plan, commands } = rebalance;
    let nodes = &observation.snapshot.nodes;
    let mut out = format!(
        "Rebalance plan by {} (target {:.2} x mean, at most {} moves): {} move(s), {} key(s) to migrate; stopped: {}\n",
        question.measure.name(),
        question.target,
        question.max_moves,
        plan.moves.len(),
        plan.keys_to_migrate,
        plan.stop.as_str().replace('_', " "),
    );
    let _ = writeln!(
        out,
        "  max/mean {} -> {} (predicted); gini {} -> {}",
        ratio(plan.before.max_over_mean),
        ratio(plan.after.max_over_mean),
        ratio(plan.before.gini),
        ratio(plan.after.gini)
    );
    if !plan.moves.is_empty() {
        let _ = writeln!(out, "  {:>5}  {:<22} {:<22} {:>7}  {:>11}", "slot", "from", "to", "keys", "load");
    }
    for m in &plan.moves {
        let load = match question.measure {
            Measure::Cpu => cpu_rate(Some(m.load)),
            Measure::Keys => format!("{:.0} keys", m.load),
            _ => byte_rate(Some(m.load)),
        };
        let _ = writeln!(
            out,
            "  {:>5}  {:<22} {:<22} {:>7}  {:>11}",
            m.slot,
            nodes[m.from].addr.as_str(),
            nodes[m.to].addr.as_str(),
            m.keys,
            load
        );
    }
    match commands.kind {
        Kind::Nothing => {}
        Kind::MigrateSlots => out.push_str("Commands (atomic slot migration, Valkey 9.0+; review, then run):\n"),
        Kind::ClassicScript => out.push_str("Script (classic resharding; review, save as a file, then run with sh):\n"),
    }
    for line in &commands.lines {
        let _ = writeln!(out, "  {line}");
    }
    if !commands.left_out.is_empty() {
        out.push_str("Left out of the commands:\n");
    }
    for left in &commands.left_out {
        let _ = writeln!(out, "  slot {}: {}", left.slot, left.reason);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_left_out_of_the_commands_are_listed_in_the_text_and_the_json() {
        use crate::aggregate::Aggregator;
        use crate::aggregate::test_support::{node, snapshot};
        use crate::insight::commands::commands;
        use crate::insight::plan::{Move, Plan, Stop};
        use crate::snapshot::Role;
        let good = "0123456789abcdef0123456789abcdef01234567";
        let nodes = vec![
            node("10.0.0.1:7001", good, Role::Primary, true),
            node("10.0.0.2:7002", "x; rm -rf ~", Role::Primary, true),
        ];
        let observation = Aggregator::new(128).observe(snapshot(100, nodes, &[(7, 0, 5, 5, 5, 3)]));
        let moves = vec![Move { slot: 7, from: 0, to: 1, keys: 3, load: 3.0 }];
        let plan = Plan {
            moves,
            before: Imbalance::default(),
            after: Imbalance::default(),
            keys_to_migrate: 3,
            stop: Stop::MaxMoves,
        };
        let question = PlanQuestion { measure: Measure::Keys, target: 1.1, max_moves: 1 };
        let commands = commands(&plan.moves, &observation.snapshot, false);
        let rebalance = Rebalance { plan, commands };
        let reason = "node 10.0.0.2:7002 reports an ID that is not 40 hexadecimal characters; move left out of the \
                      commands";
        let text = super::plan(&observation, &question, &rebalance);
        assert!(text.contains(&format!("Left out of the commands:\n  slot 7: {reason}\n")), "{text}");
        assert!(!text.contains("rm -rf"), "{text}");
        let reply = crate::render::insight::plan(
            &observation,
            &question,
            &rebalance,
            crate::render::insight::Freshness::default(),
            std::time::SystemTime::now(),
        );
        let json: serde_json::Value = serde_json::from_str(&reply.body).expect("JSON");
        assert_eq!(json["data"]["commands_kind"], "none");
        assert_eq!(json["data"]["commands_left_out"], serde_json::json!([{"slot_id": 7, "reason": reason}]));
    }

    #[test]
    fn units_read_like_a_person_writes_them() {
        assert_eq!(cpu_rate(Some(850.0)), "850 µs/s");
        assert_eq!(cpu_rate(Some(1_234.0)), "1.23 ms/s");
        assert_eq!(cpu_rate(Some(2_030_000.0)), "2.03 s/s");
        assert_eq!(cpu_rate(None), "-");
        assert_eq!(byte_rate(Some(512.0)), "512 B/s");
        assert_eq!(byte_rate(Some(3_400_000.0)), "3.40 MB/s");
        assert_eq!(byte_rate(Some(0.0)), "0.00 B/s");
        assert_eq!(percent(Some(0.3333)), "33.3%");
    }
}
