//! The exporter's whole refresh against the floor: a minimal raw RESP client
//! ([`crate::floor`]) and fred alone fetching the same replies from the same nodes.

use crate::floor;
use crate::load::median_ms;
use clap::Parser as _;
use std::time::{Duration, Instant};
use valkey_slot_exporter::addr::NodeAddr;
use valkey_slot_exporter::config::{self, Cli};
use valkey_slot_exporter::for_benchmarks::{
    ClusterCollector, ConnectOptions, NodePool, RawCommand, Role, Topology, all_slots_request,
};

const SLOT_STATS_ALL: &[&str] = &["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "0", "16383"];

/// Medians (wall ms, this process's CPU ms) per variant.
#[derive(Clone, Default)]
pub(crate) struct Refresh {
    pub(crate) floor: (f64, f64),
    /// One command per node, then at most 4096, 1024 and 256 slots per command.
    pub(crate) fred: [(f64, f64); 4],
    pub(crate) exporter: (f64, f64),
    pub(crate) reply_bytes: usize,
}

/// Times, round after round and interleaved so that background load hits all alike:
/// the raw floor, fred fetching the replies without the exporter's decoding (one
/// command per node, then commands of at most 4096, 1024 and 256 slots), and the
/// exporter's whole refresh.
pub(crate) async fn measure_refresh(primaries: &[String], seed: &str, rounds: usize) -> Refresh {
    let mut conns = Vec::new();
    for addr in primaries {
        conns.push(floor::RawConn::connect(addr).await.expect("raw connection"));
    }
    let cli = Cli::try_parse_from(["valkey-slot-exporter", "--nodes", seed, "--node-timeout", "10s"]).expect("flags");
    let collector = ClusterCollector::new(&config::load(cli).expect("settings").clusters[0]);
    let pool =
        NodePool::new(ConnectOptions { tls: None, username: None, password: None, timeout: Duration::from_secs(10) });
    let topology = {
        let seed = config::parse_node_url(seed).expect("seed URL");
        let reply = pool.command(&seed.addr, &["CLUSTER", "SLOTS"]).await.expect("CLUSTER SLOTS");
        Topology::from_cluster_slots(reply, "127.0.0.1").expect("topology")
    };
    let primaries: Vec<usize> =
        (0..topology.nodes.len()).filter(|&i| topology.nodes[i].role == Role::Primary).collect();
    let one: Vec<(NodeAddr, Vec<RawCommand>)> =
        primaries.iter().map(|&i| (topology.nodes[i].addr.clone(), vec![all_slots_request()])).collect();
    let chunked = |per: usize| -> Vec<(NodeAddr, Vec<RawCommand>)> {
        primaries.iter().map(|&i| (topology.nodes[i].addr.clone(), topology.slot_stats_requests_of(i, per))).collect()
    };
    let plans = [one, chunked(4096), chunked(1024), chunked(256)];

    let mut samples: [Vec<(Duration, Duration)>; 6] = Default::default();
    let mut reply_bytes = 0;
    for round in 0..rounds + 2 {
        let floor = timed(async {
            let sizes = futures_util::future::join_all(conns.iter_mut().map(|c| c.fetch(SLOT_STATS_ALL))).await;
            sizes.into_iter().map(|s| s.expect("raw fetch")).sum::<usize>()
        })
        .await;
        reply_bytes = floor.2;
        let mut fred = Vec::new();
        for plan in &plans {
            let (wall, cpu, ()) = timed(fetch_raw(&pool, plan)).await;
            fred.push((wall, cpu));
        }
        let exporter = timed(async {
            let snapshot = collector.refresh().await;
            assert_eq!(snapshot.failed_nodes().count(), 0, "a node failed during the benchmark");
            assert_eq!(snapshot.slots.len(), 16384, "every slot reported");
        })
        .await;
        // The first rounds connect and warm up allocators; they are not counted.
        if round >= 2 {
            let timings = [(floor.0, floor.1), fred[0], fred[1], fred[2], fred[3], (exporter.0, exporter.1)];
            for (variant, timing) in samples.iter_mut().zip(timings) {
                variant.push(timing);
            }
        }
    }
    let summary = |s: &[(Duration, Duration)]| {
        let walls: Vec<Duration> = s.iter().map(|x| x.0).collect();
        let cpus: Vec<Duration> = s.iter().map(|x| x.1).collect();
        (median_ms(&walls), median_ms(&cpus))
    };
    Refresh {
        floor: summary(&samples[0]),
        fred: [summary(&samples[1]), summary(&samples[2]), summary(&samples[3]), summary(&samples[4])],
        exporter: summary(&samples[5]),
        reply_bytes,
    }
}

/// Runs `work`, returning its wall time, this process's CPU time meanwhile, and its output.
pub(crate) async fn timed<T>(work: impl std::future::Future<Output = T>) -> (Duration, Duration, T) {
    let (cpu, started) = (cpu_time(), Instant::now());
    let out = work.await;
    (started.elapsed(), cpu_time() - cpu, out)
}

/// Every node's replies through fred, as raw frames, dropped unread.
async fn fetch_raw(pool: &NodePool, plan: &[(NodeAddr, Vec<RawCommand>)]) {
    let fetches =
        plan.iter().map(|(addr, commands)| pool.pipeline_raw(addr, commands.clone(), |frame| frame.map(drop)));
    for fetched in futures_util::future::join_all(fetches).await {
        fetched.expect("fred fetch");
    }
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |t: libc::timeval| Duration::from_micros(t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64);
    micros(usage.ru_utime) + micros(usage.ru_stime)
}
