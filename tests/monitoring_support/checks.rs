//! Questions asked of a real Prometheus about the monitoring stack's queries, retried
//! until they pass: a scrape in which a node timed out leaves that node's series
//! missing until the next one, so one failed answer proves nothing yet.

use super::prometheus::{Prometheus, QueryResult, Series};
use crate::support::eventually::try_eventually_async;
use std::sync::Mutex;
use std::time::Duration;

/// One question asked of Prometheus.
pub struct Check {
    pub name: String,
    pub expr: String,
    kind: Kind,
    scope: Scope,
}

enum Kind {
    /// An instant query returning series with finite values, some above zero.
    Instant,
    /// A range query over the last minute, as a Grafana time series panel sends it:
    /// series with a finite value each, some above zero.
    Range,
    /// An instant query that Prometheus accepts (an alert with nothing to say is empty).
    Evaluates,
    /// A query, instant or over the last minute, that Prometheus accepts and answers
    /// with no series: a panel for data a target cannot have (migration jobs on a
    /// server without them) stays empty rather than showing another target's.
    Empty {
        /// Sent as a range query, as a time series panel sends it.
        range: bool,
    },
    /// `label_values(expr, label)` lists these values among others.
    LabelValues { label: String, must_contain: Vec<String> },
}

/// Whose data a query must return.
#[derive(Clone, Debug)]
pub enum Scope {
    /// Any data.
    Any,
    /// Data of its own for each of these values of `label`: what a rule over several
    /// targets owes each of them.
    Each { label: String, values: Vec<String> },
    /// Data, and none from another value of `label` (series without the label count):
    /// a panel filtered on one target must not pull in another's series.
    Only { label: String, value: String },
    /// As `Each` if the result keeps `label` at all, else as `Any`: a panel showing
    /// every target must not hide one (a sum over all of them has no label to tell).
    EachWhereKept { label: String, values: Vec<String> },
}

impl Check {
    pub fn instant(name: String, expr: &str, scope: Scope) -> Check {
        Check { name, expr: expr.to_owned(), kind: Kind::Instant, scope }
    }

    pub fn range(name: String, expr: &str, scope: Scope) -> Check {
        Check { name, expr: expr.to_owned(), kind: Kind::Range, scope }
    }

    pub fn evaluates(name: String, expr: &str) -> Check {
        Check { name, expr: expr.to_owned(), kind: Kind::Evaluates, scope: Scope::Any }
    }

    pub fn empty(name: String, expr: &str, range: bool) -> Check {
        Check { name, expr: expr.to_owned(), kind: Kind::Empty { range }, scope: Scope::Any }
    }

    pub fn label_values(name: String, selector: &str, label: &str, must_contain: Vec<String>) -> Check {
        let kind = Kind::LabelValues { label: label.to_owned(), must_contain };
        Check { name, expr: selector.to_owned(), kind, scope: Scope::Any }
    }

    /// Asks once; a range query spans the last minute in steps of `step`.
    async fn run(&self, prometheus: &Prometheus, step: Duration) -> Result<(), String> {
        match &self.kind {
            Kind::Instant => judge(&prometheus.query(&self.expr, None).await?, &self.scope, true),
            Kind::Range => {
                let result = prometheus.query_range(&self.expr, Duration::from_secs(60), step).await?;
                judge(&result, &self.scope, false)
            }
            Kind::Evaluates => prometheus.query(&self.expr, None).await.map(drop),
            Kind::Empty { range } => {
                let result = if *range {
                    prometheus.query_range(&self.expr, Duration::from_secs(60), step).await?
                } else {
                    prometheus.query(&self.expr, None).await?
                };
                if result.is_empty() { Ok(()) } else { Err(format!("expected no data, got {result:?}")) }
            }
            Kind::LabelValues { label, must_contain } => {
                let values = prometheus.label_values(&self.expr, label).await?;
                let absent: Vec<&String> = must_contain.iter().filter(|v| !values.contains(v)).collect();
                if absent.is_empty() { Ok(()) } else { Err(format!("{absent:?} not among {values:?}")) }
            }
        }
    }
}

/// Whether `result` has the data `scope` asks for. `instant`: every value must be
/// finite; otherwise (a range) every series must have some finite value.
fn judge(result: &QueryResult, scope: &Scope, instant: bool) -> Result<(), String> {
    match scope {
        Scope::Any => has_positive_data(&result.series.iter().collect::<Vec<_>>(), instant),
        Scope::EachWhereKept { label, values } => {
            let kept = result.series.iter().any(|s| !s.label(label).is_empty());
            let scope = if kept { Scope::Each { label: label.clone(), values: values.clone() } } else { Scope::Any };
            judge(result, &scope, instant)
        }
        Scope::Each { label, values } => values.iter().try_for_each(|value| {
            let own: Vec<&Series> = result.series.iter().filter(|s| s.label(label) == value).collect();
            has_positive_data(&own, instant).map_err(|e| format!("{label}={value}: {e}; all: {result:?}"))
        }),
        Scope::Only { label, value } => {
            let foreign = result.series.iter().find(|s| !s.label(label).is_empty() && s.label(label) != value);
            if let Some(series) = foreign {
                return Err(format!("a series of another {label}: {:?}", series.labels));
            }
            has_positive_data(&result.series.iter().collect::<Vec<_>>(), instant)
        }
    }
}

/// Data, and traffic in it: every query checked this way is about something that is
/// above zero while the cluster is up and busy (counts, keys, rates, durations,
/// ratios >= 1), and finite.
fn has_positive_data(series: &[&Series], instant: bool) -> Result<(), String> {
    if series.is_empty() {
        return Err("no data".into());
    }
    if !series.iter().flat_map(|s| &s.values).any(|v| *v > 0.0) {
        return Err(format!("no value above zero: {series:?}"));
    }
    let bad = if instant {
        series.iter().find(|s| s.values.iter().any(|v| !v.is_finite()))
    } else {
        series.iter().find(|s| !s.values.iter().any(|v| v.is_finite()))
    };
    match bad {
        Some(bad) => Err(format!("a value is not finite: {bad:?}")),
        None => Ok(()),
    }
}

/// Runs every check; retries the failing ones every `step` until they pass or `settle`
/// runs out, then fails the test listing every one still failing.
pub async fn run_until_all_pass(prometheus: &Prometheus, checks: Vec<Check>, step: Duration, settle: Duration) {
    let total = checks.len();
    // The checks still failing: each attempt takes them out and puts back the failures.
    let pending = Mutex::new(checks);
    let outcome = try_eventually_async("every check passes", settle, step, || async {
        let checks = std::mem::take(&mut *pending.lock().unwrap());
        let mut report = Vec::new();
        for check in checks {
            if let Err(error) = check.run(prometheus, step).await {
                report.push(format!("- {}\n  {}\n  => {error}", check.name, check.expr));
                pending.lock().unwrap().push(check);
            }
        }
        if report.is_empty() {
            Ok(())
        } else {
            Err(format!("{} of {total} fail:\n{}", report.len(), report.join("\n")))
        }
    })
    .await;
    if let Err(failure) = outcome {
        panic!("{failure}\n{}", prometheus.log_tail());
    }
}
