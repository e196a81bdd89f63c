//! Valkey 9.0+: the moves as `CLUSTER MIGRATESLOTS` jobs, one at a time. The moves from
//! one source to one target share a job; each job is followed in the source's
//! `CLUSTER GETSLOTMIGRATIONS` until it succeeds.
//!
//! A job that does not succeed is rolled back by the server (the slots stay with the
//! source), so a failed job leaves nothing open. What the server cannot see is a target
//! that stopped answering: measured on 9.1.2, a source whose target is paused keeps
//! its job `waiting-to-pause` for over 40 s. So each look at the job also asks the
//! target, and a target that does not answer within the node timeout is a fault: the
//! job is cancelled on the source and the moves stop.

use super::link::{CommandFailed, Link};
use super::{
    Endpoint, Event, Interrupt, LeftOpen, Outcome, POLL_INTERVAL, Progress, SlotMove, Stopped, describe, interrupted,
};
use crate::snapshot::moves::{JobOperation, MigrationJob};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The moves from one source to one target: one job.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Group {
    pub(crate) source: Endpoint,
    pub(crate) target: Endpoint,
    /// Sorted.
    pub(crate) slots: Vec<u16>,
}

/// `moves` grouped by source and target, in the order each pair first appears.
pub(crate) fn groups(moves: &[SlotMove]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for m in moves {
        match groups.iter_mut().find(|g| g.source == m.source && g.target == m.target) {
            Some(group) => group.slots.push(m.slot),
            None => groups.push(Group { source: m.source.clone(), target: m.target.clone(), slots: vec![m.slot] }),
        }
    }
    for group in &mut groups {
        group.slots.sort_unstable();
    }
    groups
}

pub(crate) use crate::insight::commands::ranges;

/// How long a just-accepted job may take to show in the source's list.
const LISTING_GRACE: Duration = Duration::from_secs(5);

/// Carries out `moves`, job after job, until done, a fault or an interrupt.
pub(crate) async fn run(
    link: &Link,
    moves: &[SlotMove],
    progress: &mut dyn Progress,
    interrupt: &Interrupt,
) -> Outcome {
    let mut outcome = Outcome::default();
    for group in groups(moves) {
        if interrupted(interrupt) {
            outcome.stopped = Some(Stopped::Interrupted);
            break;
        }
        if let Err(stop) = one_job(link, &group, progress, interrupt, &mut outcome).await {
            outcome.stopped = Some(stop);
            break;
        }
    }
    outcome.not_started(moves);
    outcome
}

fn fault(failed: CommandFailed) -> Stopped {
    Stopped::Fault(failed.to_string())
}

/// One job: start it, follow it to its end, and record where its slots ended up.
async fn one_job(
    link: &Link,
    group: &Group,
    progress: &mut dyn Progress,
    interrupt: &Interrupt,
    outcome: &mut Outcome,
) -> Result<(), Stopped> {
    let source = &group.source.addr;
    let ranges = ranges(&group.slots);
    let before: HashSet<String> = link.jobs(source).await.map_err(fault)?.into_iter().map(|j| j.name).collect();
    link.migrate_slots(source, &ranges, &group.target).await.map_err(fault)?;
    let name = match find_job(link, group, &ranges, &before).await {
        Ok(name) => name,
        Err(stop) => {
            outcome.open.push(unknown_job(link, group, None));
            return Err(stop);
        }
    };
    progress.event(Event::JobStarted {
        name: name.clone(),
        slots: group.slots.clone(),
        source: source.clone(),
        target: group.target.addr.clone(),
    });
    let end = follow(link, group, &name, progress, interrupt).await;
    match end {
        JobEnd::Succeeded(stop) => {
            outcome.moved.extend(&group.slots);
            progress.event(Event::SlotsDone { slots: group.slots.clone() });
            stop.map_or(Ok(()), Err)
        }
        JobEnd::RolledBack(stop) => {
            outcome.not_moved.extend(&group.slots);
            Err(stop)
        }
        JobEnd::Unknown(stop) => {
            outcome.open.push(unknown_job(link, group, Some(&name)));
            Err(stop)
        }
    }
}

/// The name of the job `MIGRATESLOTS` just started: the source's export job for these
/// ranges that was not listed before.
async fn find_job(
    link: &Link,
    group: &Group,
    ranges: &[(u16, u16)],
    before: &HashSet<String>,
) -> Result<String, Stopped> {
    let started = Instant::now();
    loop {
        let jobs = link.jobs(&group.source.addr).await.map_err(fault)?;
        let ours = jobs.into_iter().find(|j| {
            j.operation == JobOperation::Export
                && !before.contains(&j.name)
                && j.slot_ranges == ranges
                && j.target_node_id == group.target.id
        });
        if let Some(job) = ours {
            return Ok(job.name);
        }
        if started.elapsed() > LISTING_GRACE {
            return Err(Stopped::Fault(format!(
                "{}: CLUSTER MIGRATESLOTS was accepted but no job for it is listed",
                group.source.addr.as_str()
            )));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// How a followed job ended.
enum JobEnd {
    /// With the reason to stop anyway when the job finished as it was being cancelled.
    Succeeded(Option<Stopped>),
    /// Failed or cancelled: the server keeps the slots on the source.
    RolledBack(Stopped),
    /// Its end could not be read.
    Unknown(Stopped),
}

async fn follow(link: &Link, group: &Group, name: &str, progress: &mut dyn Progress, interrupt: &Interrupt) -> JobEnd {
    let mut interrupt = interrupt.clone();
    let mut last_state = String::new();
    loop {
        if interrupted(&interrupt) {
            return cancel(link, group, name, Stopped::Interrupted).await;
        }
        let job = match look(link, group, name).await {
            Ok(job) => job,
            Err(Look::SourceSilent(failed)) => return JobEnd::Unknown(fault(failed)),
            Err(Look::TargetSilent(failed)) => return cancel(link, group, name, fault(failed)).await,
        };
        if job.state != last_state {
            last_state = job.state.clone();
            progress.event(Event::JobState { name: name.to_string(), state: job.state.clone() });
        }
        match job.state.as_str() {
            "success" => return JobEnd::Succeeded(None),
            "failed" | "cancelled" => {
                let why = if job.message.is_empty() { String::new() } else { format!(": {}", job.message) };
                let source = group.source.addr.as_str();
                return JobEnd::RolledBack(Stopped::Fault(format!(
                    "job {name} on {source} ended {}{why}; the server kept its slots on {source}",
                    job.state
                )));
            }
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = interrupt.changed() => {}
        }
    }
}

/// Why a look at a job failed.
enum Look {
    SourceSilent(CommandFailed),
    TargetSilent(CommandFailed),
}

/// The job as the source lists it, after checking that the target still answers.
async fn look(link: &Link, group: &Group, name: &str) -> Result<MigrationJob, Look> {
    let (source_jobs, target_jobs) = tokio::join!(link.jobs(&group.source.addr), link.jobs(&group.target.addr));
    let source_jobs = source_jobs.map_err(Look::SourceSilent)?;
    target_jobs.map_err(Look::TargetSilent)?;
    source_jobs.into_iter().find(|j| j.name == name).ok_or_else(|| {
        Look::SourceSilent(CommandFailed {
            node: group.source.addr.as_str().to_string(),
            command: "CLUSTER GETSLOTMIGRATIONS",
            detail: format!("job {name} is no longer listed"),
        })
    })
}

/// Cancels the job on the source and waits for its end, for at most a few looks. The
/// cancel may be refused because the job already ended (a source that saw its target
/// die fails the job itself): what counts is the state the source lists after.
async fn cancel(link: &Link, group: &Group, name: &str, why: Stopped) -> JobEnd {
    let _ = link.cancel_jobs(&group.source.addr).await;
    let started = Instant::now();
    while started.elapsed() < LISTING_GRACE {
        if let Ok(jobs) = link.jobs(&group.source.addr).await
            && let Some(job) = jobs.iter().find(|j| j.name == name)
        {
            match job.state.as_str() {
                // Cancelled too late: the job had already finished.
                "success" => return JobEnd::Succeeded(Some(why)),
                "failed" | "cancelled" => return JobEnd::RolledBack(why),
                _ => {}
            }
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    JobEnd::Unknown(why)
}

/// A job whose end is not known: how to find out, and how to stop it.
fn unknown_job(link: &Link, group: &Group, name: Option<&str>) -> LeftOpen {
    let source = &group.source.addr;
    let cli = link.cli(source);
    let which = name.map(|n| format!("job {n}")).unwrap_or_else(|| "the job".to_string());
    LeftOpen {
        slot: group.slots[0],
        state: format!(
            "{which} moving slots {} from {} to {}: its end is unknown",
            describe(&group.slots),
            source.as_str(),
            group.target.addr.as_str()
        ),
        finish: vec![format!("{cli} CLUSTER GETSLOTMIGRATIONS   # wait for state success")],
        roll_back: vec![format!(
            "{cli} CLUSTER CANCELSLOTMIGRATIONS   # the server keeps the slots on {}",
            source.as_str()
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::NodeAddr;

    fn endpoint(port: u16) -> Endpoint {
        Endpoint { addr: NodeAddr::new("127.0.0.1", port), id: format!("{port:040}") }
    }

    fn mv(slot: u16, from: u16, to: u16) -> SlotMove {
        SlotMove { slot, source: endpoint(from), target: endpoint(to) }
    }

    #[test]
    fn moves_between_the_same_two_primaries_share_one_job_in_plan_order() {
        let got = groups(&[mv(9, 1, 2), mv(3, 1, 3), mv(4, 1, 2), mv(5, 2, 3)]);
        let summary: Vec<(u16, u16, Vec<u16>)> =
            got.iter().map(|g| (g.source.addr.port(), g.target.addr.port(), g.slots.clone())).collect();
        assert_eq!(summary, [(1, 2, vec![4, 9]), (1, 3, vec![3]), (2, 3, vec![5])]);
    }

    #[test]
    fn consecutive_slots_make_one_range() {
        assert_eq!(ranges(&[1, 2, 3, 7, 9, 10]), [(1, 3), (7, 7), (9, 10)]);
        assert_eq!(crate::apply::describe(&[10, 9, 1, 2, 3, 7]), "1-3 7 9-10");
    }
}
