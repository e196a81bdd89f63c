//! `plan --apply` on Valkey 8.0, the classic way (issue 17): the plan carried out under
//! live traffic with every key checked after, as the README's separate ACL user; a
//! refusal while a slot is open; no terminal and no `--yes`; a target killed mid-move;
//! Ctrl-C, and the printed script that finishes the slot it left open.

mod apply_support;
mod support;

use apply_support::{
    agreed_owners, applied, apply_answer, apply_args, assert_moved_under_traffic, assert_nothing_lost, load,
    open_slots, slots_on,
};
use std::time::Duration;
use support::exporter_bin::Launched;
use support::live::LiveTraffic;
use support::{ExporterBinary, ValkeyCluster, acl};

/// Longest a whole `--apply` may take here (it is a few seconds).
const RUN: Duration = Duration::from_secs(60);

fn run(args: &[String], env: &[(&str, &str)]) -> support::exporter_bin::Finished {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Launched::start(&args, env).finish(RUN)
}

#[test]
fn the_plan_is_applied_under_live_traffic_and_not_one_key_is_lost() {
    let cluster = ValkeyCluster::start(3, 0);
    let busy = cluster.primaries()[0].clone();
    let slots = slots_on(&cluster, &busy, 16);
    let expected = load(&cluster, &slots, 3125);
    acl::create_user(&cluster, "mover", &acl::apply_rules(), "mover-secret");
    let traffic = LiveTraffic::start(&busy, slots.clone());

    let args = apply_args(&cluster, 16, &["--yes", "--username", "mover"]);
    let done = run(&args, &[("VALKEY_SLOT_EXPORTER_PASSWORD", "mover-secret")]);
    let live = traffic.stop();

    let (apply, moved) = applied(&done, "classic");
    assert!(moved.len() >= 8, "a 50,000-key imbalance needs many moves: {apply}");
    let balance = &apply["balance"];
    assert!(balance["predicted"]["max_over_mean"].as_f64().is_some(), "{apply}");
    let measured = balance["measured"]["max_over_mean"].as_f64().expect("measured");
    assert!(measured < 1.5, "keys now spread (max/mean {measured}): {apply}");
    let took = apply["elapsed_seconds"].as_f64().expect("elapsed_seconds");
    assert!(took > 0.0 && took < 120.0, "the moves' own time, not the windows': {apply}");
    assert!(!done.stderr.contains("mover-secret") && !done.stdout.contains("mover-secret"));

    assert_moved_under_traffic(&cluster, &busy, &moved, live, expected);
}

#[test]
fn nothing_moves_while_a_slot_is_open_or_without_consent() {
    let cluster = ValkeyCluster::start(3, 0);
    let busy = cluster.primaries()[0].clone();
    let slots = slots_on(&cluster, &busy, 4);
    load(&cluster, &slots, 500);
    let before = cluster.slot_owners();

    let unconfirmed = run(&apply_args(&cluster, 4, &[]), &[]);
    assert_eq!(unconfirmed.status.code(), Some(2), "{}", unconfirmed.stderr);
    assert!(unconfirmed.stderr.contains("needs --yes"), "{}", unconfirmed.stderr);

    let (other, ids) = (cluster.primaries()[1].clone(), cluster.node_ids());
    let open = slots_on(&cluster, &other, 1)[0].to_string();
    cluster.cmd(&other, &["CLUSTER", "SETSLOT", &open, "MIGRATING", &ids[&busy]]);
    let refused = run(&apply_args(&cluster, 4, &["--yes"]), &[]);
    assert_eq!(refused.status.code(), Some(3), "{}\n{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains(&format!("slot {open} is open")), "{}", refused.stderr);
    assert_eq!(apply_answer(&refused.stdout)["result"], "refused");

    cluster.cmd(&other, &["CLUSTER", "SETSLOT", &open, "STABLE"]);
    assert_eq!(cluster.slot_owners(), before, "nothing moved");
}

/// `plan --apply` with `extra` flags at a terminal of its own that nobody types at.
fn at_terminal(cluster: &ValkeyCluster, extra: &[&str]) -> support::exporter_bin::Finished {
    let args = apply_args(cluster, 1, extra);
    ExporterBinary::run_at_terminal(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[])
}

#[test]
fn at_a_terminal_it_asks_first_and_shows_a_progress_bar() {
    let cluster = ValkeyCluster::start(3, 0);
    let busy = cluster.primaries()[0].clone();
    let slots = slots_on(&cluster, &busy, 2);
    load(&cluster, &slots, 500);
    let before = cluster.slot_owners();

    let asked = at_terminal(&cluster, &[]);
    assert_eq!(asked.status.code(), Some(2), "{}", asked.stdout);
    assert!(asked.stdout.contains("(classic migration) now? [y/N]"), "asks: {}", asked.stdout);
    assert!(asked.stdout.contains("not confirmed; nothing was moved"), "no answer is no: {}", asked.stdout);
    assert_eq!(cluster.slot_owners(), before, "nothing moved");

    let moved = at_terminal(&cluster, &["--yes"]);
    assert_eq!(moved.status.code(), Some(0), "{}", moved.stdout);
    assert!(moved.stdout.contains("/1 slots"), "a bar of slots done: {}", moved.stdout);
    assert!(!moved.stdout.contains("s] slot "), "no plain progress lines at a terminal: {}", moved.stdout);
    assert_ne!(cluster.slot_owners(), before, "the one move was made");
}

/// Two slots of 150,000 keys on one primary: the plan is one move (a second would
/// leave its receiver as busy as the giver was), long enough to be caught half-done.
fn one_long_move() -> (ValkeyCluster, String, Vec<u16>) {
    let cluster = ValkeyCluster::start(3, 0);
    let busy = cluster.primaries()[0].clone();
    let slots = slots_on(&cluster, &busy, 2);
    fill_slots(&cluster, &slots);
    (cluster, busy, slots)
}

fn fill_slots(cluster: &ValkeyCluster, slots: &[u16]) {
    support::fill(cluster, |s| if slots.contains(&s) { 150_000 } else { 0 });
}

/// The slot under way and its target, once its first keys have moved (so the slot is
/// open on both sides), from the `slot S from A to B` progress line.
fn moving(launched: &mut Launched) -> (u16, String) {
    launched.wait_for_stderr("keys moved", RUN);
    let stderr = launched.stderr();
    let line = stderr.lines().find(|l| l.contains("] slot ") && l.contains(" from ")).expect("progress line");
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "slot").expect("slot");
    (words[at + 1].parse().expect("slot number"), words.last().expect("target").to_string())
}

#[test]
fn a_target_killed_mid_move_stops_with_exit_1_and_the_open_slot_reported() {
    let (mut cluster, busy, _) = one_long_move();
    let args = apply_args(&cluster, 4, &["--yes"]);
    let mut launched = Launched::start(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let (slot, target) = moving(&mut launched);
    cluster.kill(&target);
    let stopped = launched.finish(RUN);

    assert_eq!(stopped.status.code(), Some(1), "{}\n{}", stopped.stdout, stopped.stderr);
    let apply = apply_answer(&stopped.stdout);
    assert_eq!(apply["result"], "stopped", "{apply}");
    assert!(
        apply["error"].as_str().unwrap().contains(&target) || apply["error"].as_str().unwrap().contains("MIGRATE"),
        "{apply}"
    );
    let open = &apply["open"][0];
    assert_eq!(open["slot"], slot, "{apply}");
    assert!(open["state"].as_str().unwrap().contains(&format!("MIGRATING on {busy}")), "{apply}");
    assert!(!open["finish"].as_array().unwrap().is_empty(), "{apply}");
    // What the report says is what the source says.
    assert_eq!(open_slots(&cluster), vec![format!("{busy} [{slot}->-{}]", cluster.node_ids()[&target])]);
}

#[test]
fn ctrl_c_stops_after_the_batch_and_the_printed_script_finishes_the_slot() {
    let (cluster, busy, slots) = one_long_move();
    let expected = slots.iter().flat_map(|s| support::live::filled_keys(*s, 150_000)).collect();
    let args = apply_args(&cluster, 4, &["--yes"]);
    let mut launched = Launched::start(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let (slot, target) = moving(&mut launched);
    launched.signal(libc::SIGINT);
    let stopped = launched.finish(RUN);

    assert_eq!(stopped.status.code(), Some(130), "{}\n{}", stopped.stdout, stopped.stderr);
    let apply = apply_answer(&stopped.stdout);
    assert_eq!(apply["result"], "interrupted", "{apply}");
    let open = &apply["open"][0];
    assert_eq!(open["slot"], slot, "{apply}");
    let script: Vec<&str> = open["finish"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("finish.sh");
    std::fs::write(&path, script.join("\n")).expect("write the script");
    let ran = std::process::Command::new("sh").arg(&path).output().expect("run sh");
    assert!(ran.status.success(), "the printed script failed: {}", String::from_utf8_lossy(&ran.stderr));

    assert_eq!(open_slots(&cluster), Vec::<String>::new(), "the script closed the slot");
    assert_eq!(agreed_owners(&cluster)[slot as usize], target, "slot {slot} now on {target}, not {busy}");
    assert_nothing_lost(&cluster, &expected);
}

#[test]
fn apply_needs_plan_flags_that_make_sense() {
    let yes_alone = ExporterBinary::run(&["plan", "--yes"], &[]);
    assert_eq!(yes_alone.status.code(), Some(2), "{}", yes_alone.stderr);
    assert!(yes_alone.stderr.contains("--apply"), "{}", yes_alone.stderr);
}
