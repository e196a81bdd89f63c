//! What `plan --apply` prints: the moves it is about to make, a refusal, and the
//! outcome (what moved, what did not, slots left open with the commands that finish or
//! undo them, and predicted against measured balance), as text or as JSON.

use super::tables::ratio;
use crate::apply::precheck::Refusal;
use crate::apply::{LeftOpen, Method, Outcome, SlotMove, Stopped, describe};
use crate::insight::stats::Imbalance;
use crate::question::Measure;
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;

/// Balance in the planned measure: what the plan predicted, and what was measured one
/// window after the last move.
pub(crate) struct Measured {
    pub(crate) measure: Measure,
    pub(crate) predicted: Imbalance,
    pub(crate) measured: Imbalance,
}

/// One line per move, for stderr before the question (the `--json` form keeps stdout
/// for the answer).
pub(crate) fn summary(moves: &[SlotMove]) -> String {
    let mut out = format!("plan --apply: {} move(s)", moves.len());
    for m in moves {
        let _ = write!(out, "\n  slot {:>5}  {} -> {}", m.slot, m.source.addr.as_str(), m.target.addr.as_str());
    }
    out
}

pub(crate) fn nothing_to_do(json: bool) -> String {
    if json {
        serde_json::json!({ "result": "nothing_to_do", "moved": [] }).to_string()
    } else {
        "Nothing to apply: the plan has no moves.".to_string()
    }
}

/// The `apply` entry of the JSON answer when the precheck refused.
pub(crate) fn refused(refusal: &Refusal) -> String {
    serde_json::json!({ "result": "refused", "reason": refusal.to_string(), "moved": [] }).to_string()
}

/// The plan's JSON answer (`{"hot_slots":..,"rebalance_plan":..}`) with `"apply": entry`
/// added, so `--apply --json` prints one object.
pub(crate) fn with_apply(plan_json: &str, entry: &str) -> String {
    let open = plan_json.trim_end().strip_suffix('}').unwrap_or(plan_json);
    format!("{open},\"apply\":{entry}}}")
}

#[derive(Serialize)]
struct OpenEntry<'a> {
    slot: u16,
    state: &'a str,
    finish: &'a [String],
    roll_back: &'a [String],
}

#[derive(Serialize)]
struct BalanceEntry<'a> {
    measure: &'static str,
    predicted: &'a Imbalance,
    measured: &'a Imbalance,
}

#[derive(Serialize)]
struct ApplyEntry<'a> {
    /// `done`, `stopped` (a fault) or `interrupted`.
    result: &'static str,
    method: &'static str,
    moved: &'a [u16],
    not_moved: &'a [u16],
    open: Vec<OpenEntry<'a>>,
    /// How long the moves took, first command to last answer (not the plan, the
    /// precheck or the second measurement): what to compare with another tool's move.
    elapsed_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    balance: Option<BalanceEntry<'a>>,
}

fn result(outcome: &Outcome) -> (&'static str, Option<&str>) {
    match &outcome.stopped {
        None => ("done", None),
        Some(Stopped::Fault(why)) => ("stopped", Some(why.as_str())),
        Some(Stopped::Interrupted) => ("interrupted", None),
    }
}

/// The outcome as text, or as the JSON answer's `apply` entry; `moving` is how long
/// the moves took.
pub(crate) fn outcome(
    method: Method,
    outcome: &Outcome,
    moving: Duration,
    after: Option<&Measured>,
    json: bool,
) -> String {
    if json {
        return as_json(method, outcome, moving, after);
    }
    let (result, error) = result(outcome);
    let mut out = match result {
        "done" => format!(
            "Applied: {} slot(s) moved ({} migration) in {:.1} s.",
            outcome.moved.len(),
            method.as_str(),
            moving.as_secs_f64()
        ),
        "interrupted" => "Interrupted (Ctrl-C): stopped before the plan was done.".to_string(),
        _ => format!("Stopped: {}", error.unwrap_or_default()),
    };
    let _ = write!(out, "\n  moved:     {}", slots(&outcome.moved));
    if result != "done" {
        let _ = write!(out, "\n  not moved: {}", slots(&outcome.not_moved));
    }
    for open in &outcome.open {
        write_open(&mut out, open);
    }
    if let Some(m) = after {
        let _ = write!(
            out,
            "\n  {} max/mean: predicted {}, measured {}; gini: predicted {}, measured {}",
            m.measure.name(),
            ratio(m.predicted.max_over_mean),
            ratio(m.measured.max_over_mean),
            ratio(m.predicted.gini),
            ratio(m.measured.gini)
        );
    }
    out
}

fn write_open(out: &mut String, open: &LeftOpen) {
    let _ = write!(out, "\n  left open: {}\n  to finish it:", open.state);
    for line in &open.finish {
        let _ = write!(out, "\n    {line}");
    }
    let _ = write!(out, "\n  to roll it back:");
    for line in &open.roll_back {
        let _ = write!(out, "\n    {line}");
    }
}

fn as_json(method: Method, outcome: &Outcome, moving: Duration, after: Option<&Measured>) -> String {
    let (result, error) = result(outcome);
    let entry = ApplyEntry {
        result,
        method: method.as_str(),
        moved: &outcome.moved,
        not_moved: &outcome.not_moved,
        open: outcome
            .open
            .iter()
            .map(|o| OpenEntry { slot: o.slot, state: &o.state, finish: &o.finish, roll_back: &o.roll_back })
            .collect(),
        // Milliseconds are plenty: a move is a round trip per batch at the least.
        elapsed_seconds: (moving.as_secs_f64() * 1e3).round() / 1e3,
        error,
        balance: after.map(|m| BalanceEntry {
            measure: m.measure.name(),
            predicted: &m.predicted,
            measured: &m.measured,
        }),
    };
    serde_json::to_string(&entry).unwrap_or_default()
}

fn slots(list: &[u16]) -> String {
    if list.is_empty() {
        return "none".to_string();
    }
    describe(list)
}
