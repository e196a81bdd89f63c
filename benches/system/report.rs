//! The benchmark's report, in Markdown, ready for docs/performance.md.

use crate::refresh::Refresh;
use crate::serving::Serving;
use std::fmt::Write as _;

/// The report, in Markdown, ready for docs/performance.md.
pub(crate) struct Report {
    out: String,
}

impl Report {
    pub(crate) fn new() -> Report {
        let mut out = String::new();
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        let valkey = std::process::Command::new("valkey-server")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "## Results\n\nMachine: {cpus} CPUs; {valkey}; exporter and load generator on the same machine.\n"
        );
        Report { out }
    }

    pub(crate) fn refresh(&mut self, r: &Refresh) {
        let o = &mut self.out;
        let _ = writeln!(o, "### Refresh (3 primaries, {} KB of RESP2 per round)\n", r.reply_bytes / 1024);
        let _ = writeln!(o, "| what | median wall ms | median client CPU ms | × floor (wall) |");
        let _ = writeln!(o, "|---|---:|---:|---:|");
        let rows = [
            ("floor: raw RESP client, one command per node", r.floor),
            ("fred fetch only, one command per node", r.fred[0]),
            ("fred fetch only, ≤4096 slots per command", r.fred[1]),
            ("fred fetch only, ≤1024 slots per command", r.fred[2]),
            ("fred fetch only, ≤256 slots per command", r.fred[3]),
            ("**exporter refresh** (topology, fetch, decode, merge)", r.exporter),
        ];
        for (name, (wall, cpu)) in rows {
            let _ = writeln!(o, "| {name} | {wall:.1} | {cpu:.1} | {:.2} |", wall / r.floor.0);
        }
        let _ = writeln!(o);
    }

    pub(crate) fn serving(&mut self, s: &Serving) {
        let o = &mut self.out;
        let _ = writeln!(
            o,
            "### Serving /metrics ({} KB identity, {} KB gzip; nginx {} workers)\n",
            s.identity_len / 1024,
            s.gzip_len / 1024,
            s.nginx_workers
        );
        let _ = writeln!(
            o,
            "| encoding | clients | exporter req/s | nginx req/s | throughput ratio | exporter p99 ms | nginx p99 ms | p99 ratio |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for row in &s.rows {
            let (e, n) = (&row.exporter, &row.nginx);
            let _ = writeln!(
                o,
                "| {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
                if row.gzip { "gzip" } else { "identity" },
                row.clients,
                e.throughput(),
                n.throughput(),
                e.throughput() / n.throughput(),
                e.percentile_ms(0.99),
                n.percentile_ms(0.99),
                e.percentile_ms(0.99) / n.percentile_ms(0.99),
            );
        }
        let _ = writeln!(o);
    }

    pub(crate) fn memory(&mut self, without: (u64, u64), with: (u64, u64)) {
        let o = &mut self.out;
        let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
        let _ = writeln!(o, "### Memory (3 primaries + 3 replicas, refreshing every 500 ms, every body served)\n");
        let _ = writeln!(o, "| replicas | peak RSS MB | RSS at end MB | × 64 MB target |");
        let _ = writeln!(o, "|---|---:|---:|---:|");
        for (name, (peak, now)) in [("excluded", without), ("included", with)] {
            let _ = writeln!(o, "| {name} | {:.1} | {:.1} | {:.2} |", mb(peak), mb(now), mb(peak) / 64.0);
        }
        let _ = writeln!(o);
    }

    pub(crate) fn growth(&mut self, rows: &[(usize, Refresh, (u64, u64))]) {
        let o = &mut self.out;
        let _ = writeln!(o, "### Growth with the number of primaries (16384 slots in all)\n");
        let _ =
            writeln!(o, "| primaries | floor ms | exporter refresh ms | × floor | × 3-primary refresh | peak RSS MB |");
        let _ = writeln!(o, "|---:|---:|---:|---:|---:|---:|");
        let base = rows.first().map_or(1.0, |r| r.1.exporter.0);
        for (primaries, refresh, (peak, _)) in rows {
            let _ = writeln!(
                o,
                "| {primaries} | {:.1} | {:.1} | {:.2} | {:.2} | {:.1} |",
                refresh.floor.0,
                refresh.exporter.0,
                refresh.exporter.0 / refresh.floor.0,
                refresh.exporter.0 / base,
                *peak as f64 / (1024.0 * 1024.0),
            );
        }
        let _ = writeln!(o);
    }

    /// A section written elsewhere ([`auth`]).
    pub(crate) fn append(&mut self, section: &str) {
        self.out.push_str(section);
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}
