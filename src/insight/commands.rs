//! The commands that would carry a plan out, for an operator to review and run: the
//! exporter itself never runs them (its ACL user should not even be allowed to).
//!
//! - Every primary involved runs Valkey 9.0+: one `CLUSTER MIGRATESLOTS` per source
//!   primary (atomic slot migration), all its moves in one command.
//! - Otherwise: a POSIX shell script of the classic steps `valkey-cli --cluster
//!   reshard` performs: `SETSLOT IMPORTING` on the target, `SETSLOT MIGRATING` on the
//!   source, `MIGRATE` of the keys in batches from `GETKEYSINSLOT`, then `SETSLOT
//!   NODE` on every primary.
//!
//! No credential is ever written: the lines say where to add them.
//!
//! Node IDs come from the servers, and whoever can reach a cluster bus port can join a
//! node with an ID of its choosing. An ID is written into a command only if it is what
//! Valkey makes (40 hexadecimal characters), so no ID can carry shell syntax into a
//! pasted line; a move whose source or target has another ID is left out of the
//! commands, with the reason in [`Commands::left_out`].

use super::plan::Move;
use crate::addr::NodeAddr;
use crate::snapshot::{NodeStatus, Role, Snapshot};
use std::collections::BTreeMap;

/// Which form the commands take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One `valkey-cli ... CLUSTER MIGRATESLOTS` line per source primary.
    MigrateSlots,
    /// A shell script of the classic steps.
    ClassicScript,
    /// The plan has no moves.
    Nothing,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::MigrateSlots => "migrateslots",
            Kind::ClassicScript => "classic_script",
            Kind::Nothing => "none",
        }
    }
}

/// Command lines for a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Commands {
    /// Which form `lines` take.
    pub(crate) kind: Kind,
    /// The commands (or script lines), ready to review and run.
    pub(crate) lines: Vec<String>,
    /// Moves of the plan that `lines` do not carry out, and why: shown beside the
    /// commands so that the operator knows the plan was not carried out whole.
    pub(crate) left_out: Vec<LeftOut>,
}

/// A planned move kept out of the commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LeftOut {
    /// The slot the move would have moved.
    pub(crate) slot: u16,
    /// Why, naming the node by its address (never echoing the odd ID itself).
    pub(crate) reason: String,
}

/// Length of a Valkey node ID: the hex of 20 random bytes.
const NODE_ID_LEN: usize = 40;

/// Whether `id` looks like an ID Valkey made, and so is safe to write into a command.
fn is_node_id(id: &str) -> bool {
    id.len() == NODE_ID_LEN && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Why `m` cannot go into the commands, if it cannot.
fn left_out(m: &Move, snapshot: &Snapshot) -> Option<LeftOut> {
    let odd = [m.from, m.to].into_iter().map(|n| &snapshot.nodes[n]).find(|n| !is_node_id(&n.node_id))?;
    let reason = format!(
        "node {} reports an ID that is not {NODE_ID_LEN} hexadecimal characters; move left out of the commands",
        odd.addr.as_str()
    );
    Some(LeftOut { slot: m.slot, reason })
}

/// The commands for `moves` on the cluster of `snapshot`; `tls` adds `--tls` to
/// every `valkey-cli`.
pub(crate) fn commands(moves: &[Move], snapshot: &Snapshot, tls: bool) -> Commands {
    let mut left = Vec::new();
    let mut kept = Vec::new();
    for m in moves {
        match left_out(m, snapshot) {
            Some(reason) => left.push(reason),
            None => kept.push(*m),
        }
    }
    let moves = &kept[..];
    if moves.is_empty() {
        return Commands { kind: Kind::Nothing, lines: Vec::new(), left_out: left };
    }
    let atomic = moves
        .iter()
        .flat_map(|m| [m.from, m.to])
        .all(|n| snapshot.nodes[n].version.as_ref().is_some_and(|v| v.has_atomic_slot_migration()));
    let cli = if tls { "valkey-cli --tls" } else { "valkey-cli" };
    if atomic {
        Commands { kind: Kind::MigrateSlots, lines: migrateslots(moves, snapshot, cli), left_out: left }
    } else {
        Commands { kind: Kind::ClassicScript, lines: classic_script(moves, snapshot, cli), left_out: left }
    }
}

/// `valkey-cli -h H -p P CLUSTER MIGRATESLOTS SLOTSRANGE a b [a b ...] NODE <id> [...]`,
/// one line per source primary, consecutive slots to one target merged into ranges.
fn migrateslots(moves: &[Move], snapshot: &Snapshot, cli: &str) -> Vec<String> {
    let mut by_source: BTreeMap<usize, BTreeMap<usize, Vec<u16>>> = BTreeMap::new();
    for m in moves {
        by_source.entry(m.from).or_default().entry(m.to).or_default().push(m.slot);
    }
    by_source
        .into_iter()
        .map(|(source, targets)| {
            let mut line = format!("{cli} {} CLUSTER MIGRATESLOTS", endpoint(&snapshot.nodes[source]));
            for (target, mut slots) in targets {
                slots.sort_unstable();
                line.push_str(" SLOTSRANGE");
                for (first, last) in ranges(&slots) {
                    line.push_str(&format!(" {first} {last}"));
                }
                line.push_str(&format!(" NODE {}", snapshot.nodes[target].node_id));
            }
            line
        })
        .collect()
}

/// Runs of consecutive slots as `(first, last)`.
pub(crate) fn ranges(sorted: &[u16]) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for &slot in sorted {
        match out.last_mut() {
            Some((_, last)) if slot == *last + 1 => *last = slot,
            _ => out.push((slot, slot)),
        }
    }
    out
}

fn endpoint(node: &NodeStatus) -> String {
    format!("-h {} -p {}", shell_word(node.addr.host()), node.addr.port())
}

/// Host names and node ids come from the cluster; quote anything unusual anyway.
fn shell_word(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || ".:-_[]".contains(c)) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

const SCRIPT_FUNCTION: &str = r#"migrate_slot() {
  slot=$1 sh=$2 sp=$3 sid=$4 th=$5 tp=$6 tid=$7
  shift 7
  $CLI -h "$th" -p "$tp" CLUSTER SETSLOT "$slot" IMPORTING "$sid"
  $CLI -h "$sh" -p "$sp" CLUSTER SETSLOT "$slot" MIGRATING "$tid"
  last=""
  while :; do
    keys=$($CLI -h "$sh" -p "$sp" --raw CLUSTER GETKEYSINSLOT "$slot" "$BATCH")
    [ -z "$keys" ] && break
    if [ "$keys" = "$last" ]; then echo "slot $slot: MIGRATE made no progress; stopping" >&2; exit 1; fi
    last=$keys
    printf '%s\n' "$keys" | xargs -d '\n' $CLI -h "$sh" -p "$sp" MIGRATE "$th" "$tp" "" 0 "$TIMEOUT_MS" KEYS
  done
  while [ "$#" -ge 2 ]; do
    $CLI -h "$1" -p "$2" CLUSTER SETSLOT "$slot" NODE "$tid"
    shift 2
  done
}"#;

fn classic_script(moves: &[Move], snapshot: &Snapshot, cli: &str) -> Vec<String> {
    let primaries: Vec<&NodeAddr> =
        snapshot.nodes.iter().filter(|n| n.role == Role::Primary).map(|n| &n.addr).collect();
    let moves: Vec<ScriptMove> = moves
        .iter()
        .map(|m| {
            let (from, to) = (&snapshot.nodes[m.from], &snapshot.nodes[m.to]);
            ScriptMove {
                slot: m.slot,
                keys: m.keys,
                source: (&from.addr, &from.node_id),
                target: (&to.addr, &to.node_id),
            }
        })
        .collect();
    script(&moves, &primaries, cli)
}

/// One slot for [`script`]: where it is, where it goes (address and node id), and how
/// many keys it holds.
pub(crate) struct ScriptMove<'a> {
    pub(crate) slot: u16,
    pub(crate) keys: u64,
    pub(crate) source: (&'a NodeAddr, &'a str),
    pub(crate) target: (&'a NodeAddr, &'a str),
}

/// The classic steps for `moves` as a POSIX shell script, `SETSLOT NODE` sent to every
/// one of `primaries`: the plan's commands, and what `plan --apply` prints to finish a
/// slot it left open (re-sending `IMPORTING`/`MIGRATING` to a slot already in that
/// state is accepted, so the same script finishes a half-done move).
pub(crate) fn script(moves: &[ScriptMove], primaries: &[&NodeAddr], cli: &str) -> Vec<String> {
    let keys: u64 = moves.iter().map(|m| m.keys).sum();
    let primaries: Vec<String> = primaries.iter().map(|a| format!("{} {}", shell_word(a.host()), a.port())).collect();
    let mut lines = vec![
        "#!/bin/sh".to_string(),
        format!(
            "# Moves {} slot(s), {keys} key(s), the classic way (SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE).",
            moves.len()
        ),
        "# Generated by valkey-slot-exporter from the load it measured: review it before running it.".into(),
        "# Add authentication (--user NAME --askpass) to CLI as your cluster needs; keys containing".into(),
        "# newlines cannot be moved by this script. Needs GNU xargs (-d).".into(),
        "set -eu".into(),
        format!("CLI=\"{cli}\""),
        "BATCH=100".into(),
        "TIMEOUT_MS=5000".into(),
        "# migrate_slot SLOT SOURCE_HOST SOURCE_PORT SOURCE_ID TARGET_HOST TARGET_PORT TARGET_ID [PRIMARY_HOST PRIMARY_PORT]...".into(),
    ];
    lines.extend(SCRIPT_FUNCTION.lines().map(str::to_string));
    for m in moves {
        let ((from, from_id), (to, to_id)) = (m.source, m.target);
        lines.push(format!(
            "migrate_slot {} {} {} {} {} {} {} {}  # {} keys",
            m.slot,
            shell_word(from.host()),
            from.port(),
            shell_word(from_id),
            shell_word(to.host()),
            to.port(),
            shell_word(to_id),
            primaries.join(" "),
            m.keys,
        ));
    }
    lines
}

/// `valkey-cli -h H -p P` (with `--tls` when the nodes take TLS) for one node.
pub(crate) fn cli_for(node: &NodeAddr, tls: bool) -> String {
    let cli = if tls { "valkey-cli --tls" } else { "valkey-cli" };
    format!("{cli} -h {} -p {}", shell_word(node.host()), node.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::test_support::{node, snapshot};
    use crate::snapshot::ServerVersion;

    const A: &str = "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a";
    const B: &str = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b";
    const C: &str = "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c";

    fn cluster_with_ids(version: &str, ids: [&str; 3]) -> Snapshot {
        let mut nodes = vec![
            node("10.0.0.1:7001", ids[0], Role::Primary, true),
            node("10.0.0.2:7002", ids[1], Role::Primary, true),
            node("10.0.0.3:7003", ids[2], Role::Primary, true),
        ];
        for n in &mut nodes {
            n.version = Some(ServerVersion { server: "valkey".into(), version: version.into() });
        }
        snapshot(0, nodes, &[])
    }

    fn cluster(version: &str) -> Snapshot {
        cluster_with_ids(version, [A, B, C])
    }

    fn moved(slot: u16, from: usize, to: usize) -> Move {
        Move { slot, from, to, keys: 2, load: 1.0 }
    }

    #[test]
    fn valkey_9_gets_one_migrateslots_line_per_source_with_merged_ranges() {
        let moves = [moved(5, 0, 1), moved(3, 0, 1), moved(4, 0, 1), moved(9, 0, 2), moved(20, 1, 2)];
        let out = commands(&moves, &cluster("9.1.2"), false);
        assert_eq!(out.kind, Kind::MigrateSlots);
        assert_eq!(
            out.lines,
            vec![
                format!(
                    "valkey-cli -h 10.0.0.1 -p 7001 CLUSTER MIGRATESLOTS SLOTSRANGE 3 5 NODE {B} SLOTSRANGE 9 9 NODE {C}"
                ),
                format!("valkey-cli -h 10.0.0.2 -p 7002 CLUSTER MIGRATESLOTS SLOTSRANGE 20 20 NODE {C}"),
            ]
        );
        assert!(out.left_out.is_empty());
        assert!(commands(&moves, &cluster("9.1.2"), true).lines[0].starts_with("valkey-cli --tls -h"));
    }

    #[test]
    fn older_servers_get_the_classic_script() {
        let out = commands(&[moved(7, 0, 2)], &cluster("8.0.1"), false);
        assert_eq!(out.kind, Kind::ClassicScript);
        assert_eq!(out.lines[0], "#!/bin/sh");
        let call = out.lines.last().unwrap();
        assert_eq!(
            call,
            &format!(
                "migrate_slot 7 10.0.0.1 7001 {A} 10.0.0.3 7003 {C} 10.0.0.1 7001 10.0.0.2 7002 10.0.0.3 7003  # 2 keys"
            )
        );
        assert!(out.lines.iter().any(|l| l.contains("GETKEYSINSLOT")));
        assert!(commands(&[], &cluster("8.0.1"), false).lines.is_empty());
    }

    #[test]
    fn only_ids_of_exactly_40_hex_characters_are_node_ids() {
        assert!(is_node_id(A));
        assert!(is_node_id(&A.to_uppercase()));
        for odd in ["", "BBB", &A[1..], &format!("{A}0"), &format!("{}g", &A[1..]), &format!("{}$(x)", &A[4..])] {
            assert!(!is_node_id(odd), "{odd:?}");
        }
        // 40 bytes, but not 40 ASCII hex characters.
        assert!(!is_node_id(&format!("{}é", &A[2..])));
    }

    #[test]
    fn a_move_touching_an_odd_id_is_left_out_with_the_reason_in_either_form() {
        let crafted = "$(touch /tmp/pwned)0123456789abcdef01234";
        let moves = [moved(1, 0, 1), moved(2, 0, 2), moved(3, 2, 0)];
        for version in ["9.1.2", "8.0.1"] {
            let out = commands(&moves, &cluster_with_ids(version, [A, B, crafted]), false);
            assert_eq!(out.left_out.iter().map(|l| l.slot).collect::<Vec<_>>(), [2, 3], "{version}");
            for left in &out.left_out {
                assert_eq!(
                    left.reason,
                    "node 10.0.0.3:7003 reports an ID that is not 40 hexadecimal characters; \
                     move left out of the commands"
                );
            }
            assert!(out.lines.iter().all(|l| !l.contains("pwned")), "{version}: {:?}", out.lines);
            assert!(out.lines.iter().any(|l| l.contains(B)), "{version}: the valid move stays");
        }
        let migrateslots = commands(&moves, &cluster_with_ids("9.1.2", [A, B, crafted]), false);
        assert_eq!(
            migrateslots.lines,
            [format!("valkey-cli -h 10.0.0.1 -p 7001 CLUSTER MIGRATESLOTS SLOTSRANGE 1 1 NODE {B}")]
        );
    }

    #[test]
    fn when_every_move_is_left_out_there_are_no_commands() {
        let out = commands(&[moved(1, 0, 1)], &cluster_with_ids("9.1.2", [A, "BBB", C]), false);
        assert_eq!(out.kind, Kind::Nothing);
        assert!(out.lines.is_empty());
        assert_eq!(out.left_out.len(), 1);
        assert!(out.left_out[0].reason.starts_with("node 10.0.0.2:7002 "), "{:?}", out.left_out);
    }

    #[test]
    fn odd_words_are_quoted() {
        assert_eq!(shell_word("a b'c"), "'a b'\\''c'");
        assert_eq!(shell_word("::1"), "::1");
    }
}
