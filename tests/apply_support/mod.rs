//! What the `plan --apply` tests share: the command line, keys loaded into chosen slots
//! of one primary, and the checks that the cluster ended whole (no slot open, every
//! primary agreeing on the owners, every key readable with its value).

use crate::support::live::{filled_keys, missing};
use crate::support::{ValkeyCluster, eventually, fill};
use std::collections::BTreeMap;
use std::time::Duration;

/// `plan --by keys` (keys need no rate window, so the plan is exact), applied without a
/// question, with the JSON answer on stdout. Keys plans are deterministic: the load is
/// what the test loaded.
pub fn apply_args(cluster: &ValkeyCluster, max_moves: u32, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "plan",
        "--nodes",
        &cluster.seed_url(),
        "--by",
        "keys",
        "--window",
        "200ms",
        "--node-timeout",
        "2s",
        "--max-moves",
        &max_moves.to_string(),
        "--apply",
        "--json",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// The first `count` slots `primary` owns.
pub fn slots_on(cluster: &ValkeyCluster, primary: &str, count: usize) -> Vec<u16> {
    let owners = cluster.slot_owners();
    (0..owners.len() as u16).filter(|s| owners[*s as usize] == primary).take(count).collect()
}

/// Loads `per_slot` keys into each of `slots` and returns every key with its value.
pub fn load(cluster: &ValkeyCluster, slots: &[u16], per_slot: u64) -> BTreeMap<String, String> {
    fill(cluster, |s| if slots.contains(&s) { per_slot } else { 0 });
    slots.iter().flat_map(|s| filled_keys(*s, per_slot)).collect()
}

/// The `[slot->-id]` / `[slot-<-id]` fields of every answering primary's own `CLUSTER
/// NODES` line, each after the primary's address.
pub fn open_slots(cluster: &ValkeyCluster) -> Vec<String> {
    cluster
        .primaries()
        .iter()
        .flat_map(|p| {
            let Ok(nodes) = cluster.try_cmd(p, &["CLUSTER", "NODES"]) else { return Vec::new() };
            let text = nodes.as_str().map(str::to_owned).unwrap_or_default();
            let myself = text.lines().find(|l| l.contains("myself")).unwrap_or_default().to_owned();
            myself.split_whitespace().filter(|f| f.starts_with('[')).map(|f| format!("{p} {f}")).collect::<Vec<_>>()
        })
        .collect()
}

/// Waits until every primary names the same owner for every slot, and returns it.
pub fn agreed_owners(cluster: &ValkeyCluster) -> Vec<String> {
    eventually("every primary agrees on the slot owners", Duration::from_secs(10), Duration::from_millis(100), || {
        let views: Vec<Vec<String>> = cluster.primaries().iter().map(|p| cluster.slot_owners_seen_by(p)).collect();
        if views.windows(2).all(|w| w[0] == w[1]) { Ok(views[0].clone()) } else { Err("views differ".to_string()) }
    })
}

/// Panics naming the keys the cluster lost or changed.
pub fn assert_nothing_lost(cluster: &ValkeyCluster, expected: &BTreeMap<String, String>) {
    let seed = cluster.primaries()[0].clone();
    let lost = missing(&seed, expected);
    assert!(
        lost.is_empty(),
        "{} of {} keys lost or changed, e.g. {:?}",
        lost.len(),
        expected.len(),
        &lost[..lost.len().min(5)]
    );
}

/// The `apply` object of a `--json` answer.
pub fn apply_answer(stdout: &str) -> serde_json::Value {
    let answer: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{stdout}"));
    answer["apply"].clone()
}

/// The `apply` object of a run that made every move by `method` (exit 0, `result`
/// `done`), and the slots it moved.
pub fn applied(done: &crate::support::exporter_bin::Finished, method: &str) -> (serde_json::Value, Vec<u16>) {
    assert_eq!(done.status.code(), Some(0), "{}\n{}", done.stdout, done.stderr);
    let apply = apply_answer(&done.stdout);
    assert_eq!(apply["result"], "done", "{apply}");
    assert_eq!(apply["method"], method, "{apply}");
    let moved = apply["moved"].as_array().expect("moved").iter().map(|s| s.as_u64().unwrap() as u16).collect();
    (apply, moved)
}

/// After a finished apply under live traffic: no slot open, every `moved` slot off
/// `busy` in every primary's view, the traffic never failed nor read a wrong value and
/// ran throughout, every key written before and during the moves still there with its
/// value, and the mover's ACL never refused a command.
pub fn assert_moved_under_traffic(
    cluster: &ValkeyCluster,
    busy: &str,
    moved: &[u16],
    live: crate::support::live::LiveReport,
    mut expected: BTreeMap<String, String>,
) {
    assert_eq!(open_slots(cluster), Vec::<String>::new(), "no slot left open");
    let owners = agreed_owners(cluster);
    for slot in moved {
        assert_ne!(owners[*slot as usize], busy, "slot {slot} left {busy}");
    }
    assert!(live.errors.is_empty() && live.wrong_reads.is_empty(), "{:?} {:?}", live.errors, live.wrong_reads);
    assert!(live.written.len() > 100, "the traffic ran throughout: {} writes", live.written.len());
    expected.extend(live.written);
    assert_nothing_lost(cluster, &expected);
    let denials = crate::support::acl::denials(cluster);
    assert!(denials.is_empty(), "the README's ACL covers --apply: {denials:?}");
}
