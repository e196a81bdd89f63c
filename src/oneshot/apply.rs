//! `plan --apply`: the plan, then the operator's consent, then a fresh look at the
//! cluster, then the moves, then a second measurement one `--window` later.
//!
//! Exit status: 0 when every move was made; 1 when the moves stopped on a fault (the
//! report says what moved and what did not); 2 when not confirmed (no terminal and no
//! `--yes`, or not answered yes); 3 when refused before the first move (a node down,
//! slots already moving, the plan out of date: nothing was changed); 130 on Ctrl-C.

use super::progress::Reporter;
use super::{OneshotError, observe};
use crate::aggregate::Observation;
use crate::apply::link::Link;
use crate::apply::precheck;
use crate::apply::{Method, Outcome, SlotMove, Stopped, atomic, classic};
use crate::collect::ClusterCollector;
use crate::config::{ClusterSettings, PlanArgs};
use crate::insight::commands::Kind;
use crate::insight::{Rebalance, measured_imbalance};
use crate::question::PlanQuestion;
use crate::render::apply as report;
use crate::snapshot::Role;
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// Exit status when the operator did not confirm.
const NOT_CONFIRMED: u8 = 2;
/// Exit status when the cluster's state refused the moves.
const REFUSED: u8 = 3;
/// Exit status after Ctrl-C, as a shell reports death by SIGINT.
const INTERRUPTED: u8 = 130;

/// Carries out `rebalance` (planned on `observation`), having printed `shown`.
pub(super) async fn apply(
    settings: &ClusterSettings,
    observation: &Observation,
    rebalance: &Rebalance,
    question: &PlanQuestion,
    args: &PlanArgs,
    shown: String,
) -> Result<u8, OneshotError> {
    let snapshot = &observation.snapshot;
    let left_out: Vec<u16> = rebalance.commands.left_out.iter().map(|l| l.slot).collect();
    let moves: Vec<SlotMove> = rebalance
        .plan
        .moves
        .iter()
        .filter(|m| !left_out.contains(&m.slot))
        .map(|m| SlotMove::from_plan(m, snapshot))
        .collect();
    if args.json {
        eprintln!("{}", report::summary(&moves));
    } else {
        println!("{shown}");
    }
    let print = |entry: String| {
        if args.json {
            println!("{}", report::with_apply(&shown, &entry));
        } else {
            println!("{entry}");
        }
    };
    if moves.is_empty() {
        print(report::nothing_to_do(args.json));
        return Ok(0);
    }
    let method = if rebalance.commands.kind == Kind::MigrateSlots { Method::Atomic } else { Method::Classic };
    if !confirmed(args, settings.name.as_ref(), moves.len(), method) {
        return Ok(NOT_CONFIRMED);
    }
    let interrupt = on_ctrl_c();
    let collector = ClusterCollector::new(settings);
    let now = collector.refresh().await;
    if let Err(refusal) = precheck::check(&now, &moves, method) {
        eprintln!("valkey-slot-exporter: refused: {refusal}");
        if args.json {
            print(report::refused(&refusal));
        }
        return Ok(REFUSED);
    }
    let primaries = now.nodes.iter().filter(|n| n.role == Role::Primary).map(|n| n.addr.clone()).collect::<Vec<_>>();
    let link = Link::new(settings);
    let mut progress = Reporter::new(moves.len());
    // The moves alone, from the first command to the last answer: what an operator
    // compares with another tool's move (the plan and the two windows are not moving).
    let started = Instant::now();
    let outcome = match method {
        Method::Atomic => atomic::run(&link, &moves, &mut progress, &interrupt).await,
        Method::Classic => classic::run(&link, &moves, &primaries, &mut progress, &interrupt).await,
    };
    let moving = started.elapsed();
    progress.finish();
    let (status, entry) = finish(settings, rebalance, question, args, method, outcome, moving).await?;
    print(entry);
    Ok(status)
}

/// The exit status and the outcome's report (with `moving`, how long the moves took);
/// after a clean run, measured again one window later.
async fn finish(
    settings: &ClusterSettings,
    rebalance: &Rebalance,
    question: &PlanQuestion,
    args: &PlanArgs,
    method: Method,
    outcome: Outcome,
    moving: Duration,
) -> Result<(u8, String), OneshotError> {
    let status = match &outcome.stopped {
        None => 0,
        Some(Stopped::Fault(_)) => 1,
        Some(Stopped::Interrupted) => INTERRUPTED,
    };
    if status != 0 {
        return Ok((status, report::outcome(method, &outcome, moving, None, args.json)));
    }
    eprintln!("moved {} slot(s); measuring again over {:?}", outcome.moved.len(), args.window);
    let measured = observe(settings, args.window).await?;
    let after = report::Measured {
        measure: question.measure,
        predicted: rebalance.plan.after,
        measured: measured_imbalance(&measured, question.measure),
    };
    Ok((0, report::outcome(method, &outcome, moving, Some(&after), args.json)))
}

/// `--yes`, or "y"/"yes" typed at a terminal; never a guess without a terminal.
fn confirmed(args: &PlanArgs, cluster: &str, moves: usize, method: Method) -> bool {
    if args.yes {
        return true;
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        eprintln!("valkey-slot-exporter: --apply without a terminal needs --yes; nothing was moved");
        return false;
    }
    eprint!("Move {moves} slot(s) on cluster {cluster} ({} migration) now? [y/N] ", method.as_str());
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let yes = stdin.lock().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes" | "YES");
    if !yes {
        eprintln!("not confirmed; nothing was moved");
    }
    yes
}

/// A receiver that turns true on the first Ctrl-C (SIGINT). The handler is installed
/// before this returns, and stays: a second Ctrl-C must not kill the process between
/// two steps of a move.
fn on_ctrl_c() -> watch::Receiver<bool> {
    let (sender, receiver) = watch::channel(false);
    match signal(SignalKind::interrupt()) {
        Ok(mut sigint) => {
            tokio::spawn(async move {
                if sigint.recv().await.is_some() {
                    eprintln!("\ninterrupted: stopping after the current step (a running job is cancelled)");
                    let _ = sender.send(true);
                    while sigint.recv().await.is_some() {
                        eprintln!("already stopping");
                    }
                }
            });
        }
        Err(e) => eprintln!("valkey-slot-exporter: cannot catch Ctrl-C ({e}); it will end the process"),
    }
    receiver
}
