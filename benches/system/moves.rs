//! How fast `plan --apply` moves slots (issue 17): 16 slots holding 50,000 keys moved
//! from one primary to another by `--apply` and by `valkey-cli --cluster reshard`, side
//! by side on Valkey 8.0, and by `--apply` on Valkey 9.1 (atomic) for comparison.
//!
//! Every move starts from a fresh 3-primary cluster laid out the same way: the first
//! primary holds 3,125 keys in each of its 32 lowest slots (100,000 keys), the second
//! in each of its 16 lowest (50,000), the third none. With `--by keys --target 1.0` the
//! planner then moves exactly the first primary's 16 lowest slots to the third (at
//! equal gain it takes the lower slot; the least loaded primary receives), and
//! `reshard --cluster-slots 16` from the first to the third takes the same 16 slots
//! (it takes a source's slots lowest first): the same slots, the same 50,000 keys.
//! After each move every one of them is checked: owned by the third primary in every
//! primary's view, no slot left open, `CLUSTER COUNTKEYSINSLOT` 3,125 on the third and
//! 0 on the first.
//!
//! What is timed is the move alone. For `--apply`, the `elapsed_seconds` of its JSON
//! report (first command to last answer; not the plan, the precheck or the second
//! measurement). For `reshard`, the `valkey-cli` process from start to exit (found
//! every 20 ms), which also loads and checks the cluster first: that part is measured
//! on its own as `valkey-cli --cluster check` and reported beside it. `reshard` runs
//! with its default pipeline (10 keys per `MIGRATE`, what operators run) and with
//! `--cluster-pipeline 1000`, `--apply`'s batch. Rounds alternate the order of the
//! sides, so load from other work on the machine falls on all of them alike.

use crate::apply_support::{agreed_owners, apply_answer, apply_args, open_slots, slots_on};
use crate::support::exporter_bin::Launched;
use crate::support::process;
use crate::support::{ValkeyCluster, fill};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// Slots moved per run.
const SLOTS: usize = 16;
/// Keys in each of them: 16 × 3,125 = 50,000.
const KEYS_PER_SLOT: u64 = 3_125;
/// Longest one move may take before the benchmark gives up (each is seconds).
const RUN: Duration = Duration::from_secs(300);

/// The ways of moving the slots, in the order of the report.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    /// `plan --apply` on Valkey 8.0: the classic steps.
    Apply8,
    /// `valkey-cli --cluster reshard` with its default pipeline (10 keys per MIGRATE).
    ReshardDefault,
    /// `valkey-cli --cluster reshard --cluster-pipeline 1000`.
    Reshard1000,
    /// `plan --apply` on Valkey 9.1: one `CLUSTER MIGRATESLOTS` job.
    Apply9,
}

impl Side {
    const ALL: [Side; 4] = [Side::Apply8, Side::ReshardDefault, Side::Reshard1000, Side::Apply9];

    fn name(self) -> &'static str {
        match self {
            Side::Apply8 => "`plan --apply` (classic)",
            Side::ReshardDefault => "`valkey-cli --cluster reshard` (default pipeline)",
            Side::Reshard1000 => "`valkey-cli --cluster reshard --cluster-pipeline 1000`",
            Side::Apply9 => "`plan --apply` (atomic, `MIGRATESLOTS`)",
        }
    }

    fn server(self) -> &'static str {
        if self == Side::Apply9 { "Valkey 9.1" } else { "Valkey 8.0" }
    }

    fn keys_per_call(self) -> &'static str {
        match self {
            Side::Apply8 | Side::Reshard1000 => "1000",
            Side::ReshardDefault => "10",
            Side::Apply9 => "server's own",
        }
    }
}

/// A fresh cluster laid out for one move, and what the move must do.
struct Layout {
    cluster: ValkeyCluster,
    source: String,
    target: String,
    /// The 16 slots both tools move, sorted.
    slots: Vec<u16>,
}

impl Layout {
    fn start(valkey9: bool) -> Layout {
        let cluster = if valkey9 { ValkeyCluster::start_valkey9(3, 0) } else { ValkeyCluster::start(3, 0) };
        let primaries = cluster.primaries();
        let (source, half, target) = (primaries[0].clone(), &primaries[1], primaries[2].clone());
        let busy = slots_on(&cluster, &source, 2 * SLOTS);
        let loaded = [busy.clone(), slots_on(&cluster, half, SLOTS)].concat();
        let keys = fill(&cluster, |s| if loaded.contains(&s) { KEYS_PER_SLOT } else { 0 });
        assert_eq!(keys, 3 * SLOTS as u64 * KEYS_PER_SLOT, "the layout's keys");
        Layout { cluster, source, target, slots: busy[..SLOTS].to_vec() }
    }

    /// Panics unless the 16 slots and all their keys are now on the target, in every
    /// primary's view, with no slot left open.
    fn check_moved(&self, side: Side) {
        assert_eq!(open_slots(&self.cluster), Vec::<String>::new(), "{}: no slot left open", side.name());
        let owners = agreed_owners(&self.cluster);
        for slot in &self.slots {
            assert_eq!(owners[*slot as usize], self.target, "{}: slot {slot} on the target", side.name());
            let count = |node: &str| {
                let reply = self.cluster.cmd(node, &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]);
                reply.as_int().expect("COUNTKEYSINSLOT answers a number")
            };
            assert_eq!(count(&self.target), KEYS_PER_SLOT as i64, "{}: slot {slot}'s keys on the target", side.name());
            assert_eq!(count(&self.source), 0, "{}: slot {slot}'s keys gone from the source", side.name());
        }
    }
}

/// Seconds per move, per side, in the order measured.
#[derive(Default)]
pub struct Figures {
    seconds: [Vec<f64>; 4],
    /// `valkey-cli --cluster check` on the same cluster: the loading and checking that
    /// `reshard` does before its first move, counted in its seconds.
    check_seconds: Vec<f64>,
}

/// Measures `rounds` rounds of every side.
pub fn measure(rounds: usize) -> Figures {
    let mut figures = Figures::default();
    for round in 0..rounds {
        let mut order = Side::ALL.to_vec();
        if round % 2 == 1 {
            order.reverse();
        }
        for side in order {
            let layout = Layout::start(side == Side::Apply9);
            let seconds = match side {
                Side::Apply8 | Side::Apply9 => apply(&layout, side),
                Side::ReshardDefault => reshard(&layout, None, &mut figures.check_seconds),
                Side::Reshard1000 => reshard(&layout, Some(1000), &mut figures.check_seconds),
            };
            layout.check_moved(side);
            eprintln!("   round {}: {}: {seconds:.3} s", round + 1, side.name());
            figures.seconds[side as usize].push(seconds);
        }
    }
    figures
}

/// `plan --apply --yes --by keys --target 1.0`: its `elapsed_seconds`.
fn apply(layout: &Layout, side: Side) -> f64 {
    let args = apply_args(&layout.cluster, SLOTS as u32, &["--yes", "--target", "1.0"]);
    let done = Launched::start(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[]).finish(RUN);
    assert_eq!(done.status.code(), Some(0), "{}\n{}", done.stdout, done.stderr);
    let answer = apply_answer(&done.stdout);
    let method = if side == Side::Apply9 { "atomic" } else { "classic" };
    assert_eq!(answer["method"], method, "{answer}");
    let mut moved: Vec<u16> =
        answer["moved"].as_array().expect("moved").iter().map(|s| s.as_u64().expect("a slot") as u16).collect();
    moved.sort_unstable();
    assert_eq!(moved, layout.slots, "the plan moved the 16 lowest loaded slots: {answer}");
    answer["elapsed_seconds"].as_f64().expect("elapsed_seconds in the report")
}

/// `valkey-cli --cluster reshard` of 16 slots from the source to the target: the
/// process's wall time. Times `--cluster check` first, on the same cluster.
fn reshard(layout: &Layout, pipeline: Option<u32>, check_seconds: &mut Vec<f64>) -> f64 {
    let ids = layout.cluster.node_ids();
    check_seconds.push(valkey_cli(layout, &["--cluster", "check", &layout.source], "check"));
    let slots = SLOTS.to_string();
    let mut args = vec![
        "--cluster",
        "reshard",
        &layout.source,
        "--cluster-from",
        &ids[&layout.source],
        "--cluster-to",
        &ids[&layout.target],
        "--cluster-slots",
        &slots,
        "--cluster-yes",
    ];
    let pipeline = pipeline.map(|p| p.to_string());
    if let Some(p) = &pipeline {
        args.extend(["--cluster-pipeline", p]);
    }
    valkey_cli(layout, &args, "reshard")
}

/// Runs `valkey-cli args` to completion in the cluster's directory; its wall seconds.
fn valkey_cli(layout: &Layout, args: &[&str], label: &str) -> f64 {
    let started = Instant::now();
    let mut child =
        process::spawn(Path::new("valkey-cli"), args, layout.cluster.dir(), label).expect("spawn valkey-cli");
    let status = child.wait_until(started + RUN).unwrap_or_else(|| panic!("valkey-cli {args:?} still runs"));
    let seconds = started.elapsed().as_secs_f64();
    assert!(status.success(), "valkey-cli {args:?}: {status}\n{}", child.output_tail(20));
    seconds
}

fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

impl Figures {
    pub fn markdown(&self) -> String {
        let keys = SLOTS as f64 * KEYS_PER_SLOT as f64;
        let mut out = format!(
            "\n### Moves: {SLOTS} slots, {keys:.0} keys, from one primary to another (3 primaries, fresh cluster each)\n\n"
        );
        let _ = writeln!(
            out,
            "| how | server | keys per call | seconds per round | median s | keys/s | × reshard (default) | × reshard (1000) |"
        );
        let _ = writeln!(out, "|---|---|---:|---|---:|---:|---:|---:|");
        let reshard = (median(&self.seconds[1]), median(&self.seconds[2]));
        for side in Side::ALL {
            let samples = &self.seconds[side as usize];
            let each: Vec<String> = samples.iter().map(|s| format!("{s:.3}")).collect();
            let m = median(samples);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {m:.3} | {:.0} | {:.2} | {:.2} |",
                side.name(),
                side.server(),
                side.keys_per_call(),
                each.join(", "),
                keys / m,
                m / reshard.0,
                m / reshard.1,
            );
        }
        let _ = writeln!(
            out,
            "\n`--apply`: its report's `elapsed_seconds` (the moves alone). `reshard`: the process's wall time, \
             which includes loading and checking the cluster; `valkey-cli --cluster check` alone took a median \
             {:.3} s. Ratios are of median seconds: below 1, faster than `reshard`.\n",
            median(&self.check_seconds)
        );
        out
    }
}
