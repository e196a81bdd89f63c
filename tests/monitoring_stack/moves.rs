//! Slot moves in the live stack: every cluster gets a slot left open by a classic
//! migration, and the Valkey 9.1 cluster two atomic migration jobs that end badly, one
//! cancelled by the operator and one failed by a real fault (its connection dropped).
//! Prometheus must then see the series, the jobs panel's data, and both move alerts
//! pending on exactly the nodes they are about: we cannot wait the 15 minutes of
//! ValkeySlotOpenTooLong, but a pending alert is its expression selecting the series,
//! evaluated by the rule manager itself, with the `for` clock running.

use crate::monitoring_support::prometheus::{Prometheus, QueryResult, Series};
use crate::support::eventually::{eventually, eventually_async};
use crate::support::{SLOT_COUNT, ValkeyCluster, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How long a job may take to reach the state the test waits for: a 10-slot snapshot
/// takes well under a second.
const JOB_TIMEOUT: Duration = Duration::from_secs(20);
const JOB_STEP: Duration = Duration::from_millis(100);
/// How long Prometheus may take to scrape the moves and evaluate the alerts: a few
/// scrape and evaluation intervals.
const ALERT_TIMEOUT: Duration = Duration::from_secs(30);
/// Slots per atomic migration job: enough to carry keys, quick to snapshot.
const JOB_SLOTS: usize = 10;

/// What the test did, as Prometheus must show it; each tuple starts with the cluster's
/// name as the exporter serves it (the `valkey_cluster` label).
#[derive(Default)]
pub struct Expected {
    /// (cluster, node, state) of every open slot: ValkeySlotOpenTooLong pends on these.
    open_slots: BTreeSet<(String, String, String)>,
    /// (cluster, node, operation, state) -> jobs listed: valkey_slot_migration_jobs.
    jobs: BTreeMap<(String, String, String, String), f64>,
    /// (cluster, node, operation): ValkeySlotMigrationFailed pends on exactly these.
    failed_alerts: BTreeSet<(String, String, String)>,
}

/// Opens one slot of the first primary towards the second (CLUSTER SETSLOT IMPORTING
/// on the target, then MIGRATING on the source, as valkey-cli does) and leaves it
/// open. The first primary is the one the dashboard checks pick per cluster, so its
/// open-slots panel has a 1 to show.
pub fn open_a_slot(cluster: &ValkeyCluster, name: &str, expected: &mut Expected) {
    let primaries = cluster.primaries();
    let (source, target) = (&primaries[0], &primaries[1]);
    let ids = cluster.node_ids();
    // The source's last slot: atomic jobs take its first ones.
    let slot = slots_of(cluster, source).last().copied().expect("the source owns slots").to_string();
    assert_ok(cluster.cmd(target, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &ids[source]]));
    assert_ok(cluster.cmd(source, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &ids[target]]));
    for (node, state) in [(source, "migrating"), (target, "importing")] {
        expected.open_slots.insert((name.to_owned(), node.clone(), state.to_owned()));
    }
}

/// On a Valkey 9.1 cluster: a job from the first primary to the second that the
/// operator cancels (the source lists it `cancelled`, the target `failed`), then a job
/// from the third primary to the second whose connection the target drops (CLIENT
/// KILL: both sides `failed`). Each is held before its end with `DEBUG SLOTMIGRATION
/// PREVENT-PAUSE`, as Valkey's own tests do, so that the cancel and the fault land
/// mid-way. Nothing moves: a failed job leaves the slots where they were.
pub fn fail_two_jobs(cluster: &ValkeyCluster, name: &str, expected: &mut Expected) {
    let primaries = cluster.primaries();
    let (first, target, third) = (&primaries[0], &primaries[1], &primaries[2]);
    let owners_before = cluster.slot_owners();
    for node in &primaries {
        assert_ok(cluster.cmd(node, &["DEBUG", "SLOTMIGRATION", "PREVENT-PAUSE", "1"]));
    }

    start_job_and_hold_it(cluster, first, target);
    // Valkey 9.1.2 takes no argument here (`ALL` is refused as a wrong arity).
    assert_ok(cluster.cmd(first, &["CLUSTER", "CANCELSLOTMIGRATIONS"]));
    wait_for_state(cluster, first, first, "cancelled");
    wait_for_state(cluster, target, first, "failed");

    start_job_and_hold_it(cluster, third, target);
    let link = migration_link(cluster, target);
    assert_eq!(cluster.cmd(target, &["CLIENT", "KILL", "ID", &link]).as_int(), Some(1), "kill the link");
    wait_for_state(cluster, third, third, "failed");
    wait_for_state(cluster, target, third, "failed");

    for node in &primaries {
        assert_ok(cluster.cmd(node, &["DEBUG", "SLOTMIGRATION", "PREVENT-PAUSE", "0"]));
    }
    assert_eq!(cluster.slot_owners(), owners_before, "failed jobs move no slot");
    let mut listed = |node: &String, operation: &str, state: &str, count: f64| {
        let key = (name.to_owned(), node.clone(), operation.to_owned(), state.to_owned());
        expected.jobs.insert(key, count);
    };
    listed(first, "export", "cancelled", 1.0);
    listed(target, "import", "failed", 2.0);
    listed(third, "export", "failed", 1.0);
    // The target's failed imports are hidden by the cancel in the same cluster; the
    // real fault still shows on its source.
    expected.failed_alerts.insert((name.to_owned(), third.clone(), "export".to_owned()));
}

/// Starts a job moving the source's first slots to `target` and waits until it is held
/// just before its end: the source waiting to pause its writes, the target waiting
/// for that.
fn start_job_and_hold_it(cluster: &ValkeyCluster, source: &str, target: &str) {
    let slots = slots_of(cluster, source);
    let (first, last) = (slots[0], slots[JOB_SLOTS - 1]);
    assert_eq!(usize::from(last - first), JOB_SLOTS - 1, "{source}: {JOB_SLOTS} contiguous slots");
    let target_id = &cluster.node_ids()[target];
    let (first, last) = (first.to_string(), last.to_string());
    assert_ok(cluster.cmd(source, &["CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", &first, &last, "NODE", target_id]));
    wait_for_state(cluster, source, source, "waiting-to-pause");
    wait_for_state(cluster, target, source, "waiting-for-paused");
}

/// Waits until `node` lists the job coming from `source` in `state`.
fn wait_for_state(cluster: &ValkeyCluster, node: &str, source: &str, state: &str) {
    let source_id = &cluster.node_ids()[source];
    let what = format!("{node} lists the job from {source} as {state}");
    eventually(&what, JOB_TIMEOUT, JOB_STEP, || {
        let jobs = jobs(cluster, node);
        let from_source: Vec<&BTreeMap<String, String>> =
            jobs.iter().filter(|job| job.get("source_node") == Some(source_id)).collect();
        // A node lists each job once; the test runs one job per source.
        match from_source.as_slice() {
            [job] if job.get("state").map(String::as_str) == Some(state) => Ok(()),
            _ => Err(format!("{jobs:?}")),
        }
    });
}

/// CLUSTER GETSLOTMIGRATIONS of `node`: one map of field to text per job.
fn jobs(cluster: &ValkeyCluster, node: &str) -> Vec<BTreeMap<String, String>> {
    let reply = cluster.cmd(node, &["CLUSTER", "GETSLOTMIGRATIONS"]);
    let jobs = reply.as_array().unwrap_or_else(|| panic!("{node}: GETSLOTMIGRATIONS answered {reply:?}"));
    jobs.iter()
        .map(|job| {
            let fields = job.as_array().unwrap_or_else(|| panic!("{node}: a job is {job:?}"));
            let text = |v: &Value| v.as_str().map(str::to_owned).or_else(|| v.as_int().map(|n| n.to_string()));
            fields.chunks(2).filter_map(|pair| Some((text(&pair[0])?, text(pair.get(1)?)?))).collect()
        })
        .collect()
}

/// The client id of the connection over which `target` receives the job under way:
/// the one client running `CLUSTER SYNCSLOTS`.
fn migration_link(cluster: &ValkeyCluster, target: &str) -> String {
    let reply = cluster.cmd(target, &["CLIENT", "LIST"]);
    let list = reply.as_str().expect("CLIENT LIST text");
    let links: Vec<&str> = list
        .lines()
        .filter(|line| line.contains(" cmd=cluster|syncslots "))
        .filter_map(|line| line.split(' ').find_map(|field| field.strip_prefix("id=")))
        .collect();
    match links.as_slice() {
        [id] => (*id).to_owned(),
        _ => panic!("{target}: expected one migration link among\n{list}"),
    }
}

fn slots_of(cluster: &ValkeyCluster, node: &str) -> Vec<u16> {
    let owners = cluster.slot_owners();
    (0..SLOT_COUNT).filter(|&slot| owners[usize::from(slot)] == node).collect()
}

fn assert_ok(reply: Value) {
    assert_eq!(reply.as_str(), Some("OK"), "{reply:?}");
}

/// Prometheus holds the open slots and the jobs exactly as made, and both alerts are
/// pending (or, after their `for`, firing) on exactly the nodes expected.
pub async fn check_moves_reach_prometheus(prometheus: &Prometheus, expected: &Expected, step: Duration) {
    eventually_async("the moves and their alerts reach Prometheus", ALERT_TIMEOUT, step, || async {
        let open = prometheus.query("valkey_cluster_open_slots > 0", None).await?;
        let open = labelled(&open, &["node", "state"]).into_iter().map(|l| (l[0].clone(), l[1].clone(), l[2].clone()));
        let open: BTreeSet<_> = open.collect();
        if open != expected.open_slots {
            return Err(format!("open slots: {open:?}"));
        }
        let listed = prometheus.query("valkey_slot_migration_jobs", None).await?;
        let jobs: BTreeMap<_, _> = labelled(&listed, &["node", "operation", "state"])
            .into_iter()
            .zip(listed.series.iter().map(|s| s.last()))
            .map(|(l, count)| ((l[0].clone(), l[1].clone(), l[2].clone(), l[3].clone()), count))
            .collect();
        if jobs != expected.jobs {
            return Err(format!("jobs: {jobs:?}"));
        }
        let pending = alerts(prometheus, "ValkeySlotOpenTooLong", &["node", "state"]).await?;
        let pending: BTreeSet<_> = pending.into_iter().map(|l| (l[0].clone(), l[1].clone(), l[2].clone())).collect();
        if pending != expected.open_slots {
            return Err(format!("ValkeySlotOpenTooLong on {pending:?}"));
        }
        let failed = alerts(prometheus, "ValkeySlotMigrationFailed", &["node", "operation"]).await?;
        let failed: BTreeSet<_> = failed.into_iter().map(|l| (l[0].clone(), l[1].clone(), l[2].clone())).collect();
        if failed != expected.failed_alerts {
            return Err(format!("ValkeySlotMigrationFailed on {failed:?}"));
        }
        Ok::<(), String>(())
    })
    .await;
}

/// The active instances of `alert` (pending or firing, from the ALERTS series), each
/// as its cluster and then the values of `labels`.
async fn alerts(prometheus: &Prometheus, alert: &str, labels: &[&str]) -> Result<Vec<Vec<String>>, String> {
    let active = prometheus.query(&format!("ALERTS{{alertname=\"{alert}\"}}"), None).await?;
    Ok(labelled(&active, labels))
}

/// Each series as its `valkey_cluster` and then the values of `labels`.
fn labelled(result: &QueryResult, labels: &[&str]) -> Vec<Vec<String>> {
    let row = |series: &Series| {
        let mut row = vec![series.label("valkey_cluster").to_owned()];
        row.extend(labels.iter().map(|label| series.label(label).to_owned()));
        row
    };
    result.series.iter().map(row).collect()
}
