//! One-shot commands (`plan`, `top`): the insight endpoints for an operator without a
//! running exporter. Two snapshots `--window` apart, taken with the server's own
//! collector and settings, then the answer on stdout, then exit.
//!
//! Exit status: 0 with an answer; 1 when no node answered either snapshot; 2 for bad
//! flags (clap and the configuration report those before this runs).

use crate::aggregate::rank::Measure;
use crate::aggregate::{Aggregator, Observation};
use crate::collect::ClusterCollector;
use crate::config::{ClusterSettings, Command, PlanArgs, PlanBy, RankBy, Settings, TopArgs};
use crate::insight::{balance, commands, hot, plan, primary_loads};
use crate::render::insight::{self as json, PlanRequest};
use crate::render::{json::unreachable_message, tables};
use std::time::SystemTime;

/// Runs `command` and returns the process exit status.
pub async fn run(settings: &Settings, command: Command) -> u8 {
    let (window, cluster) = match &command {
        Command::Plan(args) => (args.window, args.cluster.as_deref()),
        Command::Top(args) => (args.window, args.cluster.as_deref()),
    };
    let settings = match settings.cluster(cluster) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("valkey-slot-exporter: {e}");
            return 2;
        }
    };
    let observation = match observe(settings, window).await {
        Ok(observation) => observation,
        Err(message) => {
            eprintln!("valkey-slot-exporter: {message}");
            return 1;
        }
    };
    let output = match command {
        Command::Plan(args) => plan_output(&observation, &args, settings.valkey_tls.is_some()),
        Command::Top(args) => top_output(&observation, &args),
    };
    println!("{output}");
    0
}

/// The second of two snapshots `window` apart, folded like the server folds them.
async fn observe(settings: &ClusterSettings, window: std::time::Duration) -> Result<Observation, String> {
    let collector = ClusterCollector::new(settings);
    let aggregator = Aggregator::new(settings.slot_range_size);
    let first = aggregator.observe(collector.refresh().await);
    if first.snapshot.nothing_answered() {
        return Err(unreachable_message(&first.snapshot));
    }
    tokio::time::sleep(window).await;
    let second = aggregator.observe(collector.refresh().await);
    if second.snapshot.nothing_answered() {
        return Err(unreachable_message(&second.snapshot));
    }
    Ok(second)
}

fn rank_measure(by: RankBy) -> Measure {
    match by {
        RankBy::Cpu => Measure::Cpu,
        RankBy::Network => Measure::Network,
        RankBy::NetworkIn => Measure::NetworkIn,
        RankBy::NetworkOut => Measure::NetworkOut,
        RankBy::Keys => Measure::Keys,
    }
}

fn plan_measure(by: PlanBy) -> Measure {
    match by {
        PlanBy::Cpu => Measure::Cpu,
        PlanBy::Network => Measure::Network,
        PlanBy::Keys => Measure::Keys,
    }
}

fn top_output(observation: &Observation, args: &TopArgs) -> String {
    let limit = args.limit as usize;
    let hot = hot::hot_slots(observation, rank_measure(args.by), limit);
    if args.json {
        json::hot_slots(observation, &hot, limit, false, SystemTime::now()).body
    } else {
        tables::hot_slots(observation, &hot)
    }
}

fn plan_output(observation: &Observation, args: &PlanArgs, tls: bool) -> String {
    let measure = plan_measure(args.by);
    let limit = args.limit as usize;
    let hot = hot::hot_slots(observation, measure, limit);
    let balance = balance::balance(observation);
    let request = PlanRequest { measure, target: args.target, max_moves: args.max_moves as usize };
    let planned = plan::plan(&primary_loads(observation, measure), request.max_moves, request.target);
    let lines = commands::commands(&planned.moves, &observation.snapshot, tls);
    if args.json {
        let now = SystemTime::now();
        let body = |reply: crate::render::json::JsonReply| reply.body;
        return format!(
            "{{\"hot_slots\":{},\"balance\":{},\"rebalance_plan\":{}}}",
            body(json::hot_slots(observation, &hot, limit, false, now)),
            body(json::balance(observation, &balance, false, now)),
            body(json::plan(observation, &request, &planned, &lines, false, now)),
        );
    }
    [
        tables::hot_slots(observation, &hot),
        tables::balance(observation, &balance),
        tables::plan(observation, &request, &planned, &lines),
    ]
    .join("\n")
}
