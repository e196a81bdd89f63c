//! Two exporters for availability (issue 18): what the second one costs each cluster.
//!
//! Two of the fleet's clusters, once the fleet's exporters have stopped: `one` served
//! by one exporter, `two` by two, all at the default TTL (30 s) and scraped every 15 s
//! as in the fleet ([`fleet::scrape_side_by_side`], so both clusters live through the
//! same minutes of the machine). The exporters refresh only when scraped, so nothing
//! else reaches the clusters. After the warm-up (first refreshes, connections), every
//! primary of both is set to log every command in its slowlog and gets `CONFIG
//! RESETSTAT` and `SLOWLOG RESET`; after the measured window, its `INFO commandstats`
//! gives each command's calls and server time, and the slowlog each call's duration
//! (the harness's own commands left out; [`footprint::read_primary`]). The figures are
//! server time per primary per refresh and per minute, both as commandstats' sum and as
//! calls × median call (what the machine's other load, which descheduled servers
//! mid-command, does not inflate); the ratio two over one is what the second exporter
//! costs.

use crate::fleet::{self, Window};
use crate::footprint::{self, CommandCost};
use crate::support::{ExporterBinary, ValkeyCluster};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The exporters: one on `one`, then two on `two`, started on the main thread.
pub fn start_exporters(one: &[ValkeyCluster], two: &[ValkeyCluster], dir: &Path) -> [ExporterBinary; 3] {
    let ttl = format!("{}s", footprint::DEFAULT_TTL.as_secs());
    let start = |cluster: &[ValkeyCluster], name: &str| {
        crate::clusters::start_exporter(cluster, &ttl, &dir.join(format!("replicas-{name}.toml")))
    };
    [start(one, "one"), start(two, "two-a"), start(two, "two-b")]
}

/// One cluster's run.
struct Side {
    /// Exporters serving the cluster.
    exporters: usize,
    /// Slot-owning primaries: the figures are per primary.
    primaries: usize,
    /// Refreshes in the window, summed over the exporters (from their snapshots).
    refreshes: usize,
    /// By commandstats name, summed over the primaries.
    commands: BTreeMap<String, CommandCost>,
}

pub struct Figures {
    window: Window,
    sides: [Side; 2],
}

/// Scrapes `exporters` (one on `one`, two on `two`) and reads both clusters' commandstats.
pub async fn measure(
    one: &ValkeyCluster,
    two: &ValkeyCluster,
    exporters: &[ExporterBinary; 3],
    window: Window,
) -> Figures {
    let mut targets = Vec::new();
    for exporter in exporters {
        targets.push((exporter, fleet::discovered_paths(exporter).await));
    }
    // Asked now: CLUSTER SLOTS from the harness after the reset would be counted.
    let primaries = [one.primaries(), two.primaries()];
    let clusters = [one, two];
    let reset = || {
        for (cluster, addrs) in clusters.iter().zip(&primaries) {
            footprint::reset_statistics(cluster, addrs);
        }
    };
    let logs = fleet::scrape_side_by_side(&targets, window, reset).await;
    let side = |i: usize, exporters: std::ops::Range<usize>| {
        let mut commands = BTreeMap::new();
        for addr in &primaries[i] {
            footprint::read_primary(clusters[i], addr, &mut commands);
        }
        let failed: usize = logs[exporters.clone()].iter().flat_map(|l| &l.targets).map(|t| t.failures.len()).sum();
        assert_eq!(failed, 0, "a scrape failed during the two-exporter run");
        Side {
            exporters: exporters.len(),
            primaries: primaries[i].len(),
            refreshes: logs[exporters].iter().map(fleet::ExporterLog::refreshes).sum(),
            commands,
        }
    };
    let sides = [side(0, 0..1), side(1, 1..3)];
    for side in &sides {
        // Discovery asks CLUSTER SHARDS of one node per refresh (see footprint).
        let shards = side.commands.get("cluster|shards").map_or(0, |c| c.calls);
        assert_eq!(shards, side.refreshes as u64, "one CLUSTER SHARDS per refresh: something else refreshed");
    }
    Figures { window, sides }
}

impl Side {
    /// Calls, µs (commandstats' sum) and calls × median call in µs, of `command` (all
    /// commands when `None`), per primary, divided by `per`.
    fn per_primary(&self, command: Option<&str>, per: f64) -> (f64, f64, f64) {
        let (calls, usec, typical) = self
            .commands
            .iter()
            .filter(|(name, _)| command.is_none_or(|c| c == name.as_str()))
            .fold((0.0, 0.0, 0.0), |acc, (_, c)| {
                (acc.0 + c.calls as f64, acc.1 + c.usec as f64, acc.2 + c.calls as f64 * c.quantile(0.5) as f64)
            });
        let per = self.primaries as f64 * per;
        (calls / per, usec / per, typical / per)
    }

    /// Refresh rounds (one refresh of every exporter on the cluster): what "per round" divides by.
    fn refreshes_each(&self) -> f64 {
        self.refreshes as f64 / self.exporters as f64
    }
}

impl Figures {
    pub fn markdown(&self) -> String {
        let seconds = self.window.measured.as_secs_f64();
        let minutes = seconds / 60.0;
        let mut o = String::new();
        let _ = writeln!(o, "### Two exporters for availability: what each cluster pays ({seconds:.0} s measured)\n");
        let _ = writeln!(
            o,
            "Server time on the primaries from `INFO commandstats` and `SLOWLOG` after `CONFIG RESETSTAT`: two \
             clusters of 3 primaries side by side, one served by one exporter and one by two, every exporter at the \
             default TTL ({} s) and scraped every {} s. A refresh round is one refresh of every exporter on the \
             cluster: the ratios compare rounds, so that the time between rounds does not weigh in.\n",
            footprint::DEFAULT_TTL.as_secs(),
            fleet::SCRAPE_EVERY.as_secs()
        );
        let _ = writeln!(
            o,
            "| command | one exporter: calls per primary per refresh round | median µs | two exporters: calls | median µs | calls two / one |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|");
        let [one, two] = &self.sides;
        let names: std::collections::BTreeSet<&String> = one.commands.keys().chain(two.commands.keys()).collect();
        for name in names {
            let calls = |side: &Side| side.per_primary(Some(name), side.refreshes_each().max(1.0)).0;
            let median = |side: &Side| side.commands.get(name).map_or(0, |c| c.quantile(0.5));
            let _ = writeln!(
                o,
                "| `{}` | {:.1} | {} | {:.1} | {} | {:.2} |",
                name.replace('|', "\\|"),
                calls(one),
                median(one),
                calls(two),
                median(two),
                calls(two) / calls(one)
            );
        }
        let _ = writeln!(
            o,
            "\n| exporters | refreshes in window (all exporters) | seconds between an exporter's refreshes | server time per primary per refresh round: sum (calls × median) | per primary per minute: sum (calls × median) | share of one core per primary | two / one per refresh round: sum (calls × median) |"
        );
        let _ = writeln!(o, "|---:|---:|---:|---|---|---:|---|");
        let base = one.per_primary(None, one.refreshes_each().max(1.0));
        for side in &self.sides {
            let (_, sum, typical) = side.per_primary(None, side.refreshes_each().max(1.0));
            let (_, sum_minute, typical_minute) = side.per_primary(None, minutes);
            let _ = writeln!(
                o,
                "| {} | {} | {:.0} | {:.2} ms ({:.2} ms) | {:.2} ms ({:.2} ms) | {:.4} % | {:.2} ({:.2}) |",
                side.exporters,
                side.refreshes,
                seconds / side.refreshes_each().max(1.0),
                sum / 1e3,
                typical / 1e3,
                sum_minute / 1e3,
                typical_minute / 1e3,
                sum_minute / 60e6 * 100.0,
                sum / base.1,
                typical / base.2,
            );
        }
        let _ = writeln!(o);
        o
    }
}
