//! One-shot commands (`plan`, `top`): the insight endpoints for an operator without a
//! running exporter. Two snapshots `--window` apart, taken with the server's own
//! collector and settings, then the answer on stdout, then exit.
//!
//! Exit status: 0 with an answer; 1 when no node answered either snapshot; 2 for bad
//! flags (clap and the configuration report those before this runs) or a cluster name
//! that is not configured. `plan --apply` ([`apply`]) adds its own.

mod apply;
mod progress;

use crate::aggregate::{Aggregator, Observation};
use crate::collect::ClusterCollector;
use crate::config::{ClusterSettings, Command, ConfigError, PlanArgs, Settings, TopArgs};
use crate::insight::{Rebalance, balance, hot, rebalance};
use crate::question::PlanQuestion;
use crate::render::insight::{self as json, Freshness};
use crate::render::{json::unreachable_message, tables};
use std::time::{Duration, SystemTime};

/// Why a one-shot command printed no answer.
#[derive(Debug, thiserror::Error)]
enum OneshotError {
    /// `--cluster` names no configured cluster, or is missing with several configured.
    #[error(transparent)]
    Cluster(ConfigError),
    /// No node answered a snapshot; the text names the nodes and what each said.
    #[error("{0}")]
    Unreachable(String),
}

impl OneshotError {
    fn exit_status(&self) -> u8 {
        match self {
            OneshotError::Cluster(_) => 2,
            OneshotError::Unreachable(_) => 1,
        }
    }
}

/// Runs `command` and returns the process exit status.
pub async fn run(settings: &Settings, command: Command) -> u8 {
    match answer(settings, command).await {
        Ok(status) => status,
        Err(e) => {
            eprintln!("valkey-slot-exporter: {e}");
            e.exit_status()
        }
    }
}

/// Prints the answer (and, with `--apply`, carries the plan out); the exit status.
async fn answer(settings: &Settings, command: Command) -> Result<u8, OneshotError> {
    let (window, cluster) = match &command {
        Command::Plan(args) => (args.window, args.cluster.as_deref()),
        Command::Top(args) => (args.window, args.cluster.as_deref()),
    };
    let settings = settings.cluster(cluster).map_err(OneshotError::Cluster)?;
    let observation = observe(settings, window).await?;
    match command {
        Command::Plan(args) => {
            let question = PlanQuestion { measure: args.by, target: args.target, max_moves: args.max_moves as usize };
            let rebalance = rebalance(&observation, &question, settings.valkey_tls.is_some());
            let shown = plan_output(&observation, &args, &question, &rebalance);
            if args.apply {
                return apply::apply(settings, &observation, &rebalance, &question, &args, shown).await;
            }
            println!("{shown}");
        }
        Command::Top(args) => println!("{}", top_output(&observation, &args)),
    }
    Ok(0)
}

/// The second of two snapshots `window` apart, folded like the server folds them.
async fn observe(settings: &ClusterSettings, window: Duration) -> Result<Observation, OneshotError> {
    let collector = ClusterCollector::new(settings);
    let aggregator = Aggregator::new(settings.slot_range_size);
    let answered = |observation: Observation| {
        if observation.snapshot.nothing_answered() {
            Err(OneshotError::Unreachable(unreachable_message(&observation.snapshot)))
        } else {
            Ok(observation)
        }
    };
    answered(aggregator.observe(collector.refresh().await))?;
    tokio::time::sleep(window).await;
    answered(aggregator.observe(collector.refresh().await))
}

fn top_output(observation: &Observation, args: &TopArgs) -> String {
    let limit = args.limit as usize;
    let hot = hot::hot_slots(observation, args.by, limit);
    if args.json {
        json::hot_slots(observation, &hot, limit, Freshness::default(), SystemTime::now()).body
    } else {
        tables::hot_slots(observation, &hot)
    }
}

fn plan_output(observation: &Observation, args: &PlanArgs, question: &PlanQuestion, rebalance: &Rebalance) -> String {
    let limit = args.limit as usize;
    let hot = hot::hot_slots(observation, args.by, limit);
    let balance = balance::balance(observation);
    if args.json {
        let now = SystemTime::now();
        return format!(
            "{{\"hot_slots\":{},\"balance\":{},\"rebalance_plan\":{}}}",
            json::hot_slots(observation, &hot, limit, Freshness::default(), now).body,
            json::balance(observation, &balance, Freshness::default(), now).body,
            json::plan(observation, question, rebalance, Freshness::default(), now).body,
        );
    }
    [
        tables::hot_slots(observation, &hot),
        tables::balance(observation, &balance),
        tables::plan(observation, question, rebalance),
    ]
    .join("\n")
}
