//! What the exporter costs the cluster (issue 16): the commands it sends each primary
//! per refresh, the server time they take, and the longest single call.
//!
//! For each cluster size, the release exporter runs with `--cache-ttl 1s` (the shortest)
//! and is scraped once, so that its connections exist and the connection set-up is not
//! counted. Then every primary gets `slowlog-log-slower-than 0` (every command is logged
//! with its duration), a large `slowlog-max-len`, `CONFIG RESETSTAT` and `SLOWLOG RESET`,
//! and the exporter is made to refresh `refreshes` times: one `/metrics` request per
//! refresh, each after the TTL, until `valkey_exporter_last_refresh_timestamp_seconds`
//! changes. The exporter refreshes only when asked, so nothing else reaches the cluster.
//!
//! Then, on every primary, `INFO commandstats` gives calls and server time per command,
//! and `SLOWLOG GET -1` the longest call. Both come from the same measurement (the
//! duration Valkey's `call()` takes around a command, summed into commandstats and
//! logged by the slowlog), so the slowlog's maximum is the true longest call, where
//! commandstats' `usec_per_call` is only a mean and `LATENCY` has millisecond
//! resolution. The commands this benchmark sends itself are left out of both, and the
//! slowlog's count per command is checked against commandstats' (nothing was dropped).

use crate::support::http::Request;
use crate::support::{ExporterBinary, ValkeyCluster};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The cluster sizes measured: the usual 3 primaries, and 12 to see how cost follows slots.
pub const PRIMARIES: [usize; 2] = [3, 12];

/// The default `--cache-ttl`, against which the share of one core is given.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// The shortest TTL the exporter accepts, used to force refreshes quickly.
const SHORTEST_TTL: Duration = Duration::from_secs(1);

/// What this benchmark sends the primaries itself, in commandstats' names: never counted.
const HARNESS_COMMANDS: [&str; 4] = ["config|set", "config|resetstat", "slowlog|reset", "slowlog|get"];

/// Commands whose first argument is a subcommand, named `command|subcommand` as
/// commandstats names them.
const CONTAINERS: [&str; 6] = ["cluster", "config", "slowlog", "client", "command", "acl"];

/// One command's cost over a whole run, summed over the primaries.
#[derive(Default)]
pub struct CommandCost {
    /// Calls, from commandstats.
    pub calls: u64,
    /// Server time, µs, from commandstats.
    pub usec: u64,
    /// Calls per primary that got it at least once: shows which commands go to one node only.
    calls_per_primary: Vec<u64>,
    /// Every call's duration, µs, from the slowlog, sorted once the run is read: the
    /// longest call, and the median and p99 that show whether it was an outlier (on a
    /// shared machine, a server descheduled mid-command).
    durations: Vec<u64>,
}

impl CommandCost {
    pub fn quantile(&self, q: f64) -> u64 {
        quantile(&self.durations, q)
    }
}

/// The value at quantile `q` (0.5, 0.99, 1.0 for the largest) of sorted µs, nearest rank.
fn quantile(sorted: &[u64], q: f64) -> u64 {
    let last = sorted.len().saturating_sub(1);
    sorted.get((last as f64 * q).round() as usize).copied().unwrap_or(0)
}

/// One cluster size's run.
struct Run {
    /// Slot-owning primaries: what the figures are "per".
    primaries: usize,
    /// Refreshes forced after the reset: what the figures are "per refresh" of.
    refreshes: usize,
    /// By commandstats name.
    commands: BTreeMap<String, CommandCost>,
    /// Each primary's server time for the exporter's commands over the run, µs.
    usec_per_primary: Vec<u64>,
}

#[derive(Default)]
pub struct Figures {
    /// One per cluster size, in the order measured.
    runs: Vec<Run>,
}

impl Figures {
    /// Measures `refreshes` refreshes of the exporter against `cluster` (all primaries, no replicas).
    pub fn measure(&mut self, cluster: &ValkeyCluster, runtime: &tokio::runtime::Runtime, refreshes: usize) {
        // Asked before the statistics are reset: CLUSTER SLOTS from here would be counted.
        let primaries = cluster.primaries();
        let seed = cluster.seed_url();
        let exporter = ExporterBinary::start(&[
            "--nodes",
            &seed,
            "--cache-ttl",
            "1s",
            "--node-timeout",
            "1s",
            "--log-level",
            "warn",
        ]);
        let mut taken = runtime.block_on(next_snapshot(exporter.addr, None));
        reset_statistics(cluster, &primaries);
        for _ in 0..refreshes {
            taken = runtime.block_on(next_snapshot(exporter.addr, Some(taken)));
        }
        let mut run =
            Run { primaries: primaries.len(), refreshes, commands: BTreeMap::new(), usec_per_primary: vec![] };
        for addr in &primaries {
            run.usec_per_primary.push(read_primary(cluster, addr, &mut run.commands));
        }
        // Discovery asks the seed and up to five known nodes for CLUSTER SLOTS at once,
        // but CLUSTER SHARDS only of the node that answered first: one per refresh.
        let shards = run.commands.get("cluster|shards").map_or(0, |c| c.calls);
        assert_eq!(shards, refreshes as u64, "one CLUSTER SHARDS per refresh: something else refreshed");
        eprintln!(
            "   {} primaries: {:?} µs per primary over {refreshes} refreshes",
            run.primaries, run.usec_per_primary
        );
        self.runs.push(run);
    }
}

/// Makes every primary log every command with its duration, and clears commandstats
/// and the slowlog: from here on, both hold the exporters' commands only.
pub fn reset_statistics(cluster: &ValkeyCluster, primaries: &[String]) {
    for addr in primaries {
        for args in [
            &["CONFIG", "SET", "slowlog-log-slower-than", "0"][..],
            &["CONFIG", "SET", "slowlog-max-len", "100000"],
            &["CONFIG", "RESETSTAT"],
            &["SLOWLOG", "RESET"],
        ] {
            let reply = cluster.cmd(addr, args);
            assert!(reply.as_error().is_none(), "{addr}: {args:?}: {reply:?}");
        }
    }
}

/// Adds one primary's exporter commands to `commands`; returns their server time, µs.
pub fn read_primary(cluster: &ValkeyCluster, addr: &str, commands: &mut BTreeMap<String, CommandCost>) -> u64 {
    // INFO first: a command is counted once it has run, so this INFO is not in its own
    // answer (the slowlog read next holds it, and it is skipped there).
    let info = cluster.cmd(addr, &["INFO", "commandstats"]);
    let stats = commandstats(info.as_str().expect("INFO is text"));
    let slowlog = cluster.cmd(addr, &["SLOWLOG", "GET", "-1"]);
    let mut logged: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for entry in slowlog.as_array().expect("SLOWLOG GET is an array") {
        let fields = entry.as_array().expect("a slowlog entry is an array");
        let duration = fields[2].as_int().expect("a duration") as u64;
        let args: Vec<&str> = fields[3].as_array().expect("arguments").iter().filter_map(|a| a.as_str()).collect();
        // This benchmark's own INFO commandstats, the only INFO it sends.
        if args.len() == 2 && args[1].eq_ignore_ascii_case("commandstats") {
            continue;
        }
        logged.entry(command_name(&args)).or_default().push(duration);
    }
    let mut total = 0;
    for (name, (calls, usec)) in stats {
        if HARNESS_COMMANDS.contains(&name.as_str()) {
            continue;
        }
        let durations = logged.remove(&name).unwrap_or_default();
        assert_eq!(durations.len() as u64, calls, "{addr}: {name}: the slowlog holds every call commandstats counts");
        let cost = commands.entry(name).or_default();
        cost.calls += calls;
        cost.usec += usec;
        cost.calls_per_primary.push(calls);
        cost.durations.extend(durations);
        cost.durations.sort_unstable();
        total += usec;
    }
    total
}

/// `cmdstat_NAME:calls=N,usec=N,...` lines, as name → (calls, usec).
fn commandstats(info: &str) -> BTreeMap<String, (u64, u64)> {
    let field = |rest: &str, key: &str| -> u64 {
        rest.split(',').find_map(|kv| kv.strip_prefix(key)).and_then(|n| n.parse().ok()).expect("a commandstats field")
    };
    info.lines()
        .filter_map(|line| line.trim_end().strip_prefix("cmdstat_"))
        .filter_map(|line| line.split_once(':'))
        .map(|(name, rest)| (name.to_string(), (field(rest, "calls="), field(rest, "usec="))))
        .collect()
}

/// A logged command's name as commandstats spells it: `info`, `cluster|slot-stats`.
fn command_name(args: &[&str]) -> String {
    let first = args.first().map_or(String::new(), |a| a.to_ascii_lowercase());
    match args.get(1) {
        Some(sub) if CONTAINERS.contains(&first.as_str()) => format!("{first}|{}", sub.to_ascii_lowercase()),
        _ => first,
    }
}

/// Scrapes `/metrics` until the snapshot served is newer than `previous`, waiting out the
/// TTL first; returns its `valkey_exporter_last_refresh_timestamp_seconds`.
async fn next_snapshot(addr: SocketAddr, previous: Option<f64>) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    if previous.is_some() {
        tokio::time::sleep(SHORTEST_TTL).await;
    }
    loop {
        let answer = Request::get("/metrics").timeout(Duration::from_secs(10)).send(addr).await;
        assert_eq!(answer.status, 200, "/metrics: {}", answer.text());
        let taken = answer
            .text()
            .lines()
            .find_map(|l| l.strip_prefix("valkey_exporter_last_refresh_timestamp_seconds "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .expect("the last refresh timestamp");
        if previous.is_none_or(|p| taken > p) {
            return taken;
        }
        assert!(Instant::now() < deadline, "no new snapshot within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Figures {
    pub fn markdown(&self) -> String {
        let mut out = String::from("\n## What the exporter costs the cluster\n\n");
        let _ = writeln!(
            out,
            "Exporter commands on the primaries, from `INFO commandstats` after forced refreshes (`--cache-ttl 1s`), \
             the longest call from `SLOWLOG` (`slowlog-log-slower-than 0`); connection set-up not counted.\n"
        );
        let _ = writeln!(
            out,
            "| primaries | command | primaries asked | calls per asked primary per refresh | mean µs per call | median µs | p99 µs | longest call µs |"
        );
        let _ = writeln!(out, "|---:|---|---:|---:|---:|---:|---:|---:|");
        for run in &self.runs {
            for (name, cost) in &run.commands {
                let per = |calls: u64| calls as f64 / run.refreshes as f64;
                let (low, high) = (
                    cost.calls_per_primary.iter().copied().min().unwrap_or(0),
                    cost.calls_per_primary.iter().copied().max().unwrap_or(0),
                );
                let calls = if low == high {
                    format!("{:.1}", per(low))
                } else {
                    format!("{:.1}–{:.1}", per(low), per(high))
                };
                let _ = writeln!(
                    out,
                    // A bare `|` would split the cell, even inside backticks.
                    "| {} | `{}` | {} of {} | {calls} | {:.1} | {} | {} | {} |",
                    run.primaries,
                    name.replace('|', "\\|"),
                    cost.calls_per_primary.len(),
                    run.primaries,
                    cost.usec as f64 / cost.calls.max(1) as f64,
                    cost.quantile(0.5),
                    cost.quantile(0.99),
                    cost.quantile(1.0),
                );
            }
        }
        let _ = writeln!(
            out,
            "\n| primaries | refreshes | calls per primary per refresh | server time per primary per refresh: mean (busiest primary) | calls × median call | longest single call (p99 of all calls) | share of one core at the default TTL (30 s), busiest | at the shortest TTL (1 s) |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---|---:|---|---:|---:|");
        for run in &self.runs {
            let per_primary_refresh = (run.primaries * run.refreshes).max(1) as f64;
            let calls = run.commands.values().map(|c| c.calls).sum::<u64>() as f64 / per_primary_refresh;
            // What a refresh costs when the server is not descheduled mid-command: the
            // machine's other load inflates the mean, not the median.
            let typical = run.commands.values().map(|c| c.calls as f64 * c.quantile(0.5) as f64).sum::<f64>()
                / per_primary_refresh;
            let mean = run.usec_per_primary.iter().sum::<u64>() as f64 / per_primary_refresh;
            let busiest = run.usec_per_primary.iter().copied().max().unwrap_or(0) as f64 / run.refreshes as f64;
            let longest = run.commands.values().map(|c| c.quantile(1.0)).max().unwrap_or(0);
            let mut all: Vec<u64> = run.commands.values().flat_map(|c| c.durations.iter().copied()).collect();
            all.sort_unstable();
            let p99 = quantile(&all, 0.99);
            let _ = writeln!(
                out,
                "| {} | {} | {calls:.1} | {:.2} ms ({:.2} ms) | {:.2} ms | {:.2} ms ({:.2} ms) | {:.4} % | {:.3} % |",
                run.primaries,
                run.refreshes,
                mean / 1e3,
                busiest / 1e3,
                typical / 1e3,
                longest as f64 / 1e3,
                p99 as f64 / 1e3,
                busiest / DEFAULT_TTL.as_micros() as f64 * 100.0,
                busiest / SHORTEST_TTL.as_micros() as f64 * 100.0,
            );
        }
        out
    }
}
