//! Slot moves, read from each primary in the same task as its statistics: open slots
//! from the node's own `CLUSTER NODES` line (every version), and atomic migration jobs
//! from `CLUSTER GETSLOTMIGRATIONS` (Valkey 9.0+ only; older servers are not asked).
//!
//! The parsers are pure functions from a reply frame to the snapshot's plain types, so
//! whatever else needs the same facts (`plan --apply`'s preconditions) can reuse them.
//! Like [`super::reply`], fields are matched by name and unknown ones skipped; RESP2
//! (flat `name, value` arrays) and RESP3 (maps) replies read the same.

use super::reply::{as_u64, kind, text};
use crate::addr::NodeAddr;
use crate::snapshot::moves::{JobOperation, MigrationJob, MigrationListing, Moves, NodeMoves, OpenSlot, SlotState};
use crate::snapshot::{MAX_SLOT, NodeStatus};
use fred::types::Resp3Frame;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// A reply to one of the two commands that is not shaped as the server documents it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected {command} reply: {problem}")]
pub(crate) struct MovesReplyError {
    /// `CLUSTER NODES` or `CLUSTER GETSLOTMIGRATIONS`.
    command: &'static str,
    /// What was wrong, quoting at most a short piece of the reply.
    problem: String,
}

const NODES: &str = "CLUSTER NODES";
const MIGRATIONS: &str = "CLUSTER GETSLOTMIGRATIONS";

fn nodes_error(problem: String) -> MovesReplyError {
    MovesReplyError { command: NODES, problem }
}

fn migrations_error(problem: String) -> MovesReplyError {
    MovesReplyError { command: MIGRATIONS, problem }
}

/// The slots the answering node holds open, from the `myself` line of its `CLUSTER
/// NODES` reply (only that line carries them): `[42->-<id>]` is slot 42 migrating to
/// `<id>`, `[42-<-<id>]` slot 42 importing from `<id>`. `node` is 0 in what this
/// returns: the caller knows the node's place in the snapshot.
pub(crate) fn parse_open_slots(reply: &Resp3Frame) -> Result<Vec<OpenSlot>, MovesReplyError> {
    let bytes = match reply {
        Resp3Frame::BlobString { data, .. } | Resp3Frame::SimpleString { data, .. } => data.as_ref(),
        Resp3Frame::VerbatimString { data, .. } => data.as_ref(),
        other => return Err(nodes_error(format!("expected text, got {}", kind(other)))),
    };
    open_slots_in(&String::from_utf8_lossy(bytes))
}

/// [`parse_open_slots`] on the reply's text.
pub(crate) fn open_slots_in(text: &str) -> Result<Vec<OpenSlot>, MovesReplyError> {
    let myself = text
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.get(2).is_some_and(|flags| flags.split(',').any(|f| f == "myself")))
        .ok_or_else(|| nodes_error("no line flagged myself".into()))?;
    let node_id = myself[0].to_string();
    let mut open = Vec::new();
    for field in myself.iter().skip(8) {
        let Some(inner) = field.strip_prefix('[').and_then(|f| f.strip_suffix(']')) else {
            continue; // an owned slot or range
        };
        let (slot, state, peer) = if let Some((slot, peer)) = inner.split_once("->-") {
            (slot, SlotState::Migrating, peer)
        } else if let Some((slot, peer)) = inner.split_once("-<-") {
            (slot, SlotState::Importing, peer)
        } else {
            return Err(nodes_error(format!("unknown slot field {}", short(field))));
        };
        let slot = parse_slot(slot).ok_or_else(|| nodes_error(format!("invalid slot in {}", short(field))))?;
        if peer.is_empty() {
            return Err(nodes_error(format!("no node id in {}", short(field))));
        }
        open.push(OpenSlot { slot, node: 0, node_id: node_id.clone(), state, peer_node_id: peer.to_string() });
    }
    Ok(open)
}

/// The jobs in a `CLUSTER GETSLOTMIGRATIONS` reply: a list of maps (RESP3) or of flat
/// `name, value` arrays (RESP2). `node` is 0 in what this returns, as in
/// [`parse_open_slots`].
pub(crate) fn parse_migration_jobs(reply: &Resp3Frame) -> Result<Vec<MigrationJob>, MovesReplyError> {
    let entries = match reply {
        Resp3Frame::Array { data, .. } => data,
        Resp3Frame::Null => return Ok(Vec::new()),
        other => return Err(migrations_error(format!("expected an array, got {}", kind(other)))),
    };
    entries.iter().map(parse_job).collect()
}

fn parse_job(entry: &Resp3Frame) -> Result<MigrationJob, MovesReplyError> {
    let pairs: Vec<(&Resp3Frame, &Resp3Frame)> = match entry {
        Resp3Frame::Map { data, .. } => data.iter().collect(),
        Resp3Frame::Array { data, .. } if data.len() % 2 == 0 => data.chunks_exact(2).map(|p| (&p[0], &p[1])).collect(),
        Resp3Frame::Array { .. } => return Err(migrations_error("odd number of name/value elements".into())),
        other => return Err(migrations_error(format!("expected a job map, got {}", kind(other)))),
    };
    let field = |name: &str| pairs.iter().find(|(k, _)| text(k) == Some(name.as_bytes())).map(|(_, v)| *v);
    let string = |name: &str| field(name).and_then(text).map(|t| String::from_utf8_lossy(t).into_owned());
    let required = |name: &str| string(name).ok_or_else(|| migrations_error(format!("job without {name}")));
    let time = |name: &str| field(name).and_then(as_u64).map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s));
    let operation = match required("operation")?.to_ascii_lowercase().as_str() {
        "export" => JobOperation::Export,
        "import" => JobOperation::Import,
        other => return Err(migrations_error(format!("unknown operation {}", short(other)))),
    };
    let ranges = required("slot_ranges")?;
    Ok(MigrationJob {
        node: 0,
        name: required("name")?,
        operation,
        source_node_id: string("source_node").unwrap_or_default(),
        target_node_id: string("target_node").unwrap_or_default(),
        slot_ranges: parse_ranges(&ranges)
            .ok_or_else(|| migrations_error(format!("slot ranges {}", short(&ranges))))?,
        state: string("state").unwrap_or_default().to_ascii_lowercase(),
        message: string("message").unwrap_or_default(),
        created: time("create_time"),
        updated: time("last_update_time"),
    })
}

/// `0-99 200-210` (a lone `5` too) as inclusive ranges; `None` if any is not one.
fn parse_ranges(text: &str) -> Option<Vec<(u16, u16)>> {
    text.split_whitespace()
        .map(|range| {
            let (start, end) = range.split_once('-').unwrap_or((range, range));
            let (start, end) = (parse_slot(start)?, parse_slot(end)?);
            (start <= end).then_some((start, end))
        })
        .collect()
}

fn parse_slot(text: &str) -> Option<u16> {
    text.parse::<u16>().ok().filter(|s| *s <= MAX_SLOT)
}

/// A piece of a reply, short enough for an error detail.
fn short(text: &str) -> String {
    text.chars().take(60).collect()
}

/// What one primary said about moves, before the snapshot's node order is known.
#[derive(Debug, Default)]
pub(crate) struct MovesAnswer {
    /// `None` when its `CLUSTER NODES` was refused or unreadable.
    pub(crate) open_slots: Option<Vec<OpenSlot>>,
    pub(crate) listing: MigrationListing,
    /// Empty unless `listing` is [`MigrationListing::Listed`].
    pub(crate) jobs: Vec<MigrationJob>,
}

/// The snapshot's moves from each answering primary's `MovesAnswer`, placed by
/// address in the snapshot's (sorted) node list. Nodes without an answer (down,
/// replicas, never contacted) stay [`MigrationListing::NotAsked`].
pub(crate) fn assemble(nodes: &[NodeStatus], answers: Vec<(NodeAddr, MovesAnswer)>) -> Moves {
    let position: HashMap<&NodeAddr, usize> = nodes.iter().enumerate().map(|(i, n)| (&n.addr, i)).collect();
    let mut moves = Moves { nodes: vec![NodeMoves::default(); nodes.len()], ..Moves::default() };
    for (addr, answer) in answers {
        let Some(&at) = position.get(&addr) else { continue };
        if !nodes[at].is_up() {
            continue; // a node that failed is reported as down, not half-read
        }
        let node = at as u32;
        moves.nodes[at] = NodeMoves { listing: answer.listing, open_slots_read: answer.open_slots.is_some() };
        moves.open_slots.extend(answer.open_slots.into_iter().flatten().map(|o| OpenSlot { node, ..o }));
        moves.jobs.extend(answer.jobs.into_iter().map(|j| MigrationJob { node, ..j }));
    }
    moves.sort();
    moves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::frames_for_tests::{bulk, resp2, resp3};

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "cccccccccccccccccccccccccccccccccccccccc";

    fn open(slot: u16, state: SlotState, peer: &str) -> OpenSlot {
        OpenSlot { slot, node: 0, node_id: A.into(), state, peer_node_id: peer.into() }
    }

    #[test]
    fn only_the_myself_line_counts_with_several_bracket_fields_and_ranges() {
        let text = format!(
            "{B} 127.0.0.1:7002@17002 master - 0 1 2 connected 5461-10922 [7->-{A}]\n\
             {A} 127.0.0.1:7001@17001,host.example myself,master - 0 0 1 connected 0-5 9 12-5460 \
             [42->-{B}] [43->-{B}] [16383-<-{C}]\n\
             {C} 127.0.0.1:7003@17003 master - 0 1 3 connected 10923-16383\n"
        );
        let expected = vec![
            open(42, SlotState::Migrating, B),
            open(43, SlotState::Migrating, B),
            open(16383, SlotState::Importing, C),
        ];
        assert_eq!(open_slots_in(&text).unwrap(), expected);
        // As fred hands it over: a RESP2 bulk string, or a RESP3 verbatim string.
        assert_eq!(parse_open_slots(&resp2(&bulk(&text))).unwrap(), expected);
        let verbatim = format!("={}\r\ntxt:{text}\r\n", text.len() + 4);
        assert_eq!(parse_open_slots(&resp3(&verbatim)).unwrap(), expected);
    }

    #[test]
    fn a_node_with_nothing_open_and_malformed_lines() {
        let settled = format!("{A} 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-16383\n");
        assert_eq!(open_slots_in(&settled).unwrap(), vec![]);
        assert!(open_slots_in(&format!("{A} 127.0.0.1:7001@17001 master - 0 0 1 connected\n")).is_err());
        let bad = |field: &str| open_slots_in(&format!("{A} x myself,master - 0 0 1 connected {field}\n"));
        assert!(bad("[16384->-x]").is_err());
        assert!(bad("[a->-x]").is_err());
        assert!(bad("[5->-]").is_err());
        assert!(bad("[5=x]").is_err());
        assert!(parse_open_slots(&resp2(":1\r\n")).is_err());
    }

    /// The fields Valkey 9.1 sends for one job, in its order.
    fn job_fields(operation: &str, state: &str) -> Vec<(&'static str, String)> {
        vec![
            ("name", "f".repeat(40)),
            ("operation", operation.into()),
            ("slot_ranges", "0-99 200-210 300".into()),
            ("target_node", B.into()),
            ("source_node", A.into()),
            ("create_time", ":1796409251".into()),
            ("last_update_time", ":1796409252".into()),
            ("last_ack_time", ":1796409252".into()),
            ("state", state.into()),
            ("message", String::new()),
            ("cow_size", ":0".into()),
            ("remaining_repl_size", ":0".into()),
        ]
    }

    fn encode(fields: &[(&str, String)]) -> String {
        let value = |v: &String| if v.starts_with(':') { format!("{v}\r\n") } else { bulk(v) };
        fields.iter().map(|(k, v)| format!("{}{}", bulk(k), value(v))).collect()
    }

    fn expected_job(operation: JobOperation, state: &str) -> MigrationJob {
        MigrationJob {
            node: 0,
            name: "f".repeat(40),
            operation,
            source_node_id: A.into(),
            target_node_id: B.into(),
            slot_ranges: vec![(0, 99), (200, 210), (300, 300)],
            state: state.into(),
            message: String::new(),
            created: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_409_251)),
            updated: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_409_252)),
        }
    }

    #[test]
    fn resp2_flat_arrays_and_resp3_maps_read_the_same() {
        let (export, import) = (job_fields("EXPORT", "snapshotting"), job_fields("IMPORT", "SUCCESS"));
        let flat = format!("*2\r\n*24\r\n{}*24\r\n{}", encode(&export), encode(&import));
        let maps = format!("*2\r\n%12\r\n{}%12\r\n{}", encode(&export), encode(&import));
        let expected =
            vec![expected_job(JobOperation::Export, "snapshotting"), expected_job(JobOperation::Import, "success")];
        assert_eq!(parse_migration_jobs(&resp2(&flat)).unwrap(), expected);
        assert_eq!(parse_migration_jobs(&resp3(&maps)).unwrap(), expected);
        assert_eq!(parse_migration_jobs(&resp2("*0\r\n")).unwrap(), vec![]);
        assert_eq!(parse_migration_jobs(&Resp3Frame::Null).unwrap(), vec![]);
    }

    #[test]
    fn missing_optional_fields_are_unknown_and_broken_jobs_are_errors() {
        let minimal = format!("*1\r\n%3\r\n{}", encode(&job_fields("EXPORT", "x")[..3]));
        let job = &parse_migration_jobs(&resp3(&minimal)).unwrap()[0];
        assert_eq!((job.created, job.updated, job.state.as_str()), (None, None, ""));
        let without = |drop: &str| {
            let fields: Vec<_> = job_fields("EXPORT", "x").into_iter().filter(|(k, _)| *k != drop).collect();
            parse_migration_jobs(&resp3(&format!("*1\r\n%{}\r\n{}", fields.len(), encode(&fields))))
        };
        assert!(without("name").is_err());
        assert!(without("operation").is_err());
        assert!(without("slot_ranges").is_err());
        let with = |name: &str, value: &str| {
            let fields: Vec<_> = job_fields("EXPORT", "x")
                .into_iter()
                .map(|(k, v)| if k == name { (k, value.to_string()) } else { (k, v) })
                .collect();
            parse_migration_jobs(&resp3(&format!("*1\r\n%{}\r\n{}", fields.len(), encode(&fields))))
        };
        assert!(with("operation", "MOVE").is_err());
        assert!(with("slot_ranges", "9-3").is_err());
        assert!(with("slot_ranges", "0-16384").is_err());
        assert!(parse_migration_jobs(&resp2("*1\r\n*1\r\n$4\r\nname\r\n")).is_err(), "odd flat array");
        assert!(parse_migration_jobs(&resp2("+OK\r\n")).is_err());
        assert!(parse_migration_jobs(&resp2("*1\r\n:5\r\n")).is_err());
    }

    #[test]
    fn assembled_moves_point_at_the_snapshot_nodes_and_skip_nodes_that_failed() {
        use crate::addr::test_addr;
        use crate::snapshot::{FailureKind, NodeFailure, Role};
        let status = |addr: &str, up: bool| NodeStatus {
            addr: test_addr(addr),
            node_id: String::new(),
            role: Role::Primary,
            slots_served: 0,
            failure: (!up).then(|| NodeFailure { kind: FailureKind::Timeout, detail: String::new() }),
            duration: Duration::ZERO,
            slot_stats_enabled: None,
            version: None,
        };
        let nodes = [status("10.0.0.1:1", true), status("10.0.0.2:2", true), status("10.0.0.3:3", false)];
        let answer = |open: Vec<OpenSlot>, listing| MovesAnswer { open_slots: Some(open), listing, jobs: vec![] };
        let moves = assemble(
            &nodes,
            vec![
                (
                    test_addr("10.0.0.2:2"),
                    answer(vec![open(42, SlotState::Migrating, B)], MigrationListing::NotSupported),
                ),
                (test_addr("10.0.0.3:3"), answer(vec![open(43, SlotState::Importing, A)], MigrationListing::Listed)),
            ],
        );
        assert_eq!(moves.open_slots, vec![OpenSlot { node: 1, ..open(42, SlotState::Migrating, B) }]);
        assert_eq!(moves.of_node(0), &NodeMoves::default());
        assert_eq!(moves.of_node(1), &NodeMoves { listing: MigrationListing::NotSupported, open_slots_read: true });
        assert_eq!(moves.of_node(2).listing, MigrationListing::NotAsked, "down, so not half-read");
    }
}
