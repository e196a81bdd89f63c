//! The insight endpoints on a real Valkey 8 cluster (issue 10): hot slots ranked by the
//! traffic actually sent, balance figures checked against the per-slot data computed
//! here independently, a scale-out primary in the balance and the plan, and the
//! classic resharding script applied for real.

mod exporter_support;
mod support;

use exporter_support::{RunningExporter, start_exporter};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::time::Duration;
use support::{ExporterBinary, ValkeyCluster, expected_keys, fill, gets, send};

async fn json(exporter: &RunningExporter, path: &str) -> Json {
    let response = exporter.get(path).await;
    assert_eq!(response.status, 200, "{path}: {}", response.text());
    response.json()["data"].clone()
}

fn f(value: &Json) -> f64 {
    value.as_f64().unwrap_or_else(|| panic!("not a number: {value}"))
}

/// Per-slot `(node, keys, cpu_usec, bytes_in, bytes_out)` of a slot-stats answer.
fn per_slot(data: &Json) -> BTreeMap<u64, (String, f64, f64, f64, f64)> {
    let slots = data["slots"].as_array().expect("slots");
    slots
        .iter()
        .map(|e| {
            let value = |k: &str| e[k].as_f64().unwrap_or(0.0);
            let node = e["node"].as_str().unwrap().to_string();
            let fields =
                (node, value("key_count"), value("cpu_usec"), value("network_bytes_in"), value("network_bytes_out"));
            (e["slot_id"].as_u64().unwrap(), fields)
        })
        .collect()
}

/// Imbalance figures computed here, not by the exporter.
fn figures(loads: &[f64]) -> (f64, f64, f64) {
    let n = loads.len() as f64;
    let mean = loads.iter().sum::<f64>() / n;
    let max = loads.iter().copied().fold(0.0, f64::max);
    let gini = loads.iter().flat_map(|a| loads.iter().map(move |b| (a - b).abs())).sum::<f64>() / (2.0 * n * n * mean);
    let cv = (loads.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt() / mean;
    (max / mean, gini, cv)
}

fn assert_near(what: &str, got: f64, want: f64, relative: f64) {
    assert!((got - want).abs() <= relative * want.abs().max(1e-9), "{what}: got {got}, want {want}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_slots_follow_the_traffic_and_balance_matches_the_slots() {
    let cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    let exporter =
        start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", "1500ms", "--node-timeout", "1s"]).await;
    let first = json(&exporter, "/api/cluster/hot-slots").await;
    assert!(first["slots"].as_array().unwrap().is_empty(), "no rates from one snapshot");
    assert!(first["note"].as_str().unwrap().contains("two snapshots"));
    assert!(first["window_seconds"].is_null());
    // The second snapshot follows by itself, at most a TTL after the first (issue 18).
    let ready = f(&first["rates_ready_in_seconds"]);
    assert!(ready <= 1.5, "{first}");
    tokio::time::sleep(Duration::from_secs_f64(ready) + Duration::from_millis(200)).await;
    let second = json(&exporter, "/api/cluster/hot-slots").await;
    assert!(f(&second["window_seconds"]) > 0.0 && second["rates_ready_in_seconds"].is_null(), "{second}");
    // Past that snapshot's TTL: `before` is a refresh of its own, just before the traffic.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let before = json(&exporter, "/api/cluster/slot-stats").await;

    // Clearly separated loads on three slots, all sent between the two snapshots.
    let owners = cluster.slot_owners();
    let loads = [(700u16, 40_000), (9000, 20_000), (15000, 10_000)];
    let mut sent = BTreeMap::new();
    for (slot, count) in loads {
        sent.insert(slot, send(&owners[usize::from(slot)], &gets(slot, count)));
    }
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let after = json(&exporter, "/api/cluster/slot-stats").await;

    let hot = json(&exporter, "/api/cluster/hot-slots?by=cpu&limit=3").await;
    assert_eq!(hot["snapshot_timestamp"], after["snapshot_timestamp"], "same snapshot");
    let window = f(&hot["window_seconds"]);
    let ranked: Vec<u64> = hot["slots"].as_array().unwrap().iter().map(|e| e["slot_id"].as_u64().unwrap()).collect();
    assert_eq!(ranked, vec![700, 9000, 15000], "order of the CPU load sent");
    let by_in = json(&exporter, "/api/cluster/hot-slots?by=network_in&limit=3").await;
    for entry in by_in["slots"].as_array().unwrap() {
        let slot = entry["slot_id"].as_u64().unwrap() as u16;
        let rate = f(&entry["network_bytes_in_per_sec"]);
        assert_near(&format!("slot {slot} bytes in"), rate * window, sent[&slot] as f64, 0.2);
        assert_eq!(entry["node"].as_str().unwrap(), owners[usize::from(slot)]);
    }
    // Per node, from the two slot-stats answers: keys, CPU and network per second.
    let (old, new) = (per_slot(&before), per_slot(&after));
    let mut nodes: BTreeMap<String, (f64, f64, f64)> = BTreeMap::new();
    for (slot, (node, keys, cpu, bytes_in, bytes_out)) in &new {
        let (_, _, cpu0, in0, out0) = &old[slot];
        let entry = nodes.entry(node.clone()).or_default();
        entry.0 += keys;
        entry.1 += (cpu - cpu0) / window;
        entry.2 += (bytes_in - in0 + bytes_out - out0) / window;
    }

    // The hot slot's shares follow the CPU the server measured, not the GETs sent: CPU
    // time per GET varies on a busy machine.
    let top = &hot["slots"][0];
    let top_cpu = (new[&700].2 - old[&700].2) / window;
    let cluster_cpu: f64 = nodes.values().map(|v| v.1).sum();
    assert_near("share of node", f(&top["share_of_node"]), top_cpu / nodes[&new[&700].0].1, 1e-6);
    assert_near("share of cluster", f(&top["share_of_cluster"]), top_cpu / cluster_cpu, 1e-6);
    assert!(f(&top["share_of_cluster"]) > f(&hot["slots"][1]["share_of_cluster"]), "{hot}");

    // Balance, against the same per-node figures.
    let balance = json(&exporter, "/api/cluster/balance").await;
    assert_eq!(balance["snapshot_timestamp"], after["snapshot_timestamp"]);
    let primaries = balance["primaries"].as_array().unwrap();
    assert_eq!(primaries.len(), 3);
    for (i, measure) in ["keys", "cpu", "network"].into_iter().enumerate() {
        let column: Vec<f64> = nodes.values().map(|v| [v.0, v.1, v.2][i]).collect();
        let total: f64 = column.iter().sum();
        // Both in address order.
        for ((p, node), own) in primaries.iter().zip(nodes.keys()).zip(&column) {
            assert_eq!(p["node"].as_str(), Some(node.as_str()));
            assert_near(&format!("{measure} share of {node}"), f(&p[format!("{measure}_share")]), own / total, 1e-6);
        }
        let (max_over_mean, gini, cv) = figures(&column);
        let imbalance = &balance["imbalance"][measure];
        assert_near(&format!("{measure} max/mean"), f(&imbalance["max_over_mean"]), max_over_mean, 1e-6);
        assert_near(&format!("{measure} gini"), f(&imbalance["gini"]), gini, 1e-6);
        assert_near(&format!("{measure} cv"), f(&imbalance["coefficient_of_variation"]), cv, 1e-6);
    }
    let shares: f64 = primaries.iter().map(|p| f(&p["cpu_share"])).sum();
    assert_near("cpu shares", shares, 1.0, 1e-9);

    for bad in [
        "/api/cluster/hot-slots?by=ram",
        "/api/cluster/hot-slots?limit=0",
        "/api/cluster/hot-slots?limit=16385",
        "/api/cluster/hot-slots?limit=5&limit=6",
        "/api/cluster/balance?x=1",
        "/api/cluster/rebalance-plan?target=0.9",
        "/api/cluster/rebalance-plan?max_moves=1025",
        "/api/cluster/rebalance-plan?by=network_in",
    ] {
        let response = exporter.get(bad).await;
        assert_eq!(response.status, 400, "{bad}: {}", response.text());
        assert_eq!(response.json()["status"], "error");
    }
    let index = exporter.get("/").await.json();
    for endpoint in ["hot_slots", "balance", "rebalance_plan"] {
        assert!(index["data"]["endpoints"]["cluster"][endpoint].is_string(), "{endpoint} in the index");
    }
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_out_primary_is_listed_and_the_classic_script_moves_a_slot_to_it() {
    let mut cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    let newcomer = cluster.add_empty_primary();
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", "1s", "--node-timeout", "1s"]).await;
    let balance = json(&exporter, "/api/cluster/balance").await;
    let listed = balance["primaries"].as_array().unwrap().iter().find(|p| p["node"] == newcomer.as_str()).cloned();
    let listed = listed.unwrap_or_else(|| panic!("{newcomer} not in the balance: {balance}"));
    assert_eq!((listed["slots"].as_u64(), listed["keys"].as_u64()), (Some(0), Some(0)));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let balance = json(&exporter, "/api/cluster/balance").await;
    let listed = balance["primaries"].as_array().unwrap().iter().find(|p| p["node"] == newcomer.as_str()).unwrap();
    assert_eq!(listed["cpu_usec_per_sec"].as_f64(), Some(0.0), "zero load, not unknown");

    let plan = json(&exporter, "/api/cluster/rebalance-plan?by=keys&max_moves=1").await;
    let moves = plan["moves"].as_array().unwrap();
    assert_eq!(moves.len(), 1, "{plan}");
    assert_eq!(moves[0]["to"]["node"], newcomer.as_str(), "the empty primary is the first target");
    assert_eq!(plan["commands_kind"], "classic_script", "Valkey 8.0 has no atomic slot migration");
    let slot = moves[0]["slot_id"].as_u64().unwrap() as u16;
    let keys_before = expected_keys(slot) as i64;
    assert_eq!(moves[0]["keys"].as_i64(), Some(keys_before));
    let script: Vec<&str> = plan["commands"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    run_script(&cluster, &script.join("\n"));

    assert_eq!(cluster.slot_owners()[usize::from(slot)], newcomer, "slot {slot} changed owner");
    let count = cluster.cmd(&newcomer, &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]);
    assert_eq!(count.as_int(), Some(keys_before), "with all its keys");
    exporter.stop().await;
}

/// Runs a generated script with `sh`, as an operator would, in the cluster's folder.
fn run_script(cluster: &ValkeyCluster, script: &str) {
    let path = cluster.dir().join("rebalance.sh");
    std::fs::write(&path, script).expect("write the script");
    let output = std::process::Command::new("sh").arg(&path).output().expect("run sh");
    assert!(
        output.status.success(),
        "the script failed:\n{script}\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn plan_and_top_answer_once_and_exit_with_the_right_status() {
    let cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    let seed = cluster.seed_url();
    let text = |o: &support::exporter_bin::Finished| (o.stdout.clone(), o.stderr.clone());

    let top = ExporterBinary::run(&["top", "--nodes", &seed, "--by", "keys", "--limit", "3", "--window", "200ms"], &[]);
    let (out, err) = text(&top);
    assert_eq!(top.status.code(), Some(0), "{out}\n{err}");
    assert!(out.starts_with("Hottest slots by keys"), "{out}");
    // expected_keys peaks at 10 keys, first at slot 1: the top row.
    let first_row = out.lines().nth(2).expect("a first row");
    assert_eq!(first_row.split_whitespace().take(3).collect::<Vec<_>>(), ["1", &cluster.slot_owners()[1], "10"]);

    let plan = ExporterBinary::run(&["--nodes", &seed, "plan", "--by", "keys", "--window", "200ms", "--json"], &[]);
    let (out, err) = text(&plan);
    assert_eq!(plan.status.code(), Some(0), "{out}\n{err}");
    let answer: Json = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    for part in ["hot_slots", "balance", "rebalance_plan"] {
        assert_eq!(answer[part]["status"], "success", "{part}: the API's envelope");
    }
    assert_eq!(answer["balance"]["data"]["primaries"].as_array().unwrap().len(), 3);
    assert_eq!(answer["rebalance_plan"]["data"]["by"], "keys");

    let tables = ExporterBinary::run(&["plan", "--nodes", &seed, "--window", "200ms"], &[]);
    let (out, err) = text(&tables);
    assert_eq!(tables.status.code(), Some(0), "{err}");
    for section in ["Hottest slots by CPU", "Balance across 3 primaries", "Rebalance plan by cpu"] {
        assert!(out.contains(section), "{section} in:\n{out}");
    }

    for bad in
        [["plan", "--by", "ram"], ["top", "--limit", "0"], ["plan", "--target", "0.5"], ["top", "--window", "1ms"]]
    {
        let output = ExporterBinary::run(&bad, &[]);
        let (_, err) = text(&output);
        assert_eq!(output.status.code(), Some(2), "{bad:?}: {err}");
        assert!(err.contains(bad[1]), "{bad:?}: the message names the flag: {err}");
    }
    let nobody = ExporterBinary::run(&["top", "--nodes", "redis://127.0.0.1:1", "--window", "100ms"], &[]);
    let (_, err) = text(&nobody);
    assert_eq!(nobody.status.code(), Some(1), "{err}");
    assert!(err.contains("no Valkey node answered"), "{err}");
}
