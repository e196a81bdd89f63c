//! ACL users and the `ACL LOG`, on every node of a cluster (ACLs are per node).

use super::cluster::ValkeyCluster;
use super::resp::Value;

/// What an exporter user needs: the commands it sends (`CLUSTER SLOTS`, `CLUSTER
/// SLOT-STATS`, `CLUSTER SHARDS` for slot-less primaries, `CLUSTER NODES` for open
/// slots, `INFO server` for versions), plus `CLIENT ID`, which the client library
/// (fred) sends after AUTH on every new connection along with `INFO server`. AUTH
/// itself needs no permission. No keys, no channels. As the README recommends.
pub const EXPORTER_RULES: &[&str] = &[
    "on",
    "resetkeys",
    "resetchannels",
    "-@all",
    "+cluster|slots",
    "+cluster|slot-stats",
    "+cluster|shards",
    "+cluster|nodes",
    "+client|id",
    "+info",
];

/// [`EXPORTER_RULES`] for Valkey 9.0+, which also lists migration jobs (`CLUSTER
/// GETSLOTMIGRATIONS`); Valkey 8 refuses that name in `ACL SETUSER`.
pub const EXPORTER_RULES_VALKEY9: &[&str] = &[
    "on",
    "resetkeys",
    "resetchannels",
    "-@all",
    "+cluster|slots",
    "+cluster|slot-stats",
    "+cluster|shards",
    "+cluster|nodes",
    "+cluster|getslotmigrations",
    "+client|id",
    "+info",
];

/// What `plan --apply` needs on top of [`EXPORTER_RULES`] on Valkey 8 (the classic
/// steps): `SETSLOT`, `GETKEYSINSLOT`, `COUNTKEYSINSLOT` (the report on a slot left
/// open) and `MIGRATE` with its keys; on the target, the source logs in as the same
/// user to send `RESTORE-ASKING` (after `SELECT 0`). As the README recommends.
pub const APPLY_RULES: &[&str] = &[
    "on",
    "~*",
    "resetchannels",
    "-@all",
    "+cluster|slots",
    "+cluster|slot-stats",
    "+cluster|shards",
    "+cluster|nodes",
    "+client|id",
    "+info",
    "+cluster|setslot",
    "+cluster|getkeysinslot",
    "+cluster|countkeysinslot",
    "+migrate",
    "+restore-asking",
    "+select",
];

/// What `plan --apply` needs on Valkey 9.0+ besides [`APPLY_RULES`]: listing, starting
/// and cancelling migration jobs (Valkey 8 refuses these names in `ACL SETUSER`).
pub const APPLY_RULES_VALKEY9_EXTRA: &[&str] =
    &["+cluster|getslotmigrations", "+cluster|migrateslots", "+cluster|cancelslotmigrations"];

/// Creates (or resets) `user` with `rules` and `password` on every node, then clears
/// `ACL LOG` so that later entries are the exporter's doing.
pub fn create_user(cluster: &ValkeyCluster, user: &str, rules: &[&str], password: &str) {
    let password = format!(">{password}");
    for addr in cluster.node_addrs() {
        let mut args = vec!["ACL", "SETUSER", user, "reset"];
        args.extend_from_slice(rules);
        args.push(&password);
        assert_eq!(cluster.cmd(&addr, &args), Value::Simple("OK".into()), "{addr}: ACL SETUSER {user}");
        assert_eq!(cluster.cmd(&addr, &["ACL", "LOG", "RESET"]), Value::Simple("OK".into()));
    }
}

/// One entry of `ACL LOG`: a refused command, key or authentication.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Denial {
    pub user: String,
    /// The command (`info`, `cluster|shards`) or `AUTH` for a failed authentication.
    pub object: String,
    /// `command`, `auth`, `key`, ...
    pub reason: String,
}

/// `ACL LOG` entries of every node, sorted.
pub fn denials(cluster: &ValkeyCluster) -> Vec<Denial> {
    let mut denials = Vec::new();
    for addr in cluster.node_addrs() {
        for entry in cluster.cmd(&addr, &["ACL", "LOG"]).as_array().unwrap_or_default() {
            let fields = entry.as_array().expect("an ACL LOG entry is a map");
            let field = |name: &str| {
                let at = fields.iter().position(|f| f.as_str() == Some(name)).expect("ACL LOG field");
                fields[at + 1].as_str().unwrap_or_default().to_owned()
            };
            denials.push(Denial { user: field("username"), object: field("object"), reason: field("reason") });
        }
    }
    denials.sort();
    denials
}

/// `AUTH` as `INFO commandstats` counts it on one node: (calls, failed calls).
/// Unlike `ACL LOG`, it also counts the authentications that succeeded, so it shows
/// which nodes were ever sent credentials at all.
pub fn auth_calls(cluster: &ValkeyCluster, addr: &str) -> (u64, u64) {
    let info = cluster.cmd(addr, &["INFO", "commandstats"]);
    let text = info.as_str().expect("INFO commandstats is text");
    let Some(stats) = text.lines().find_map(|line| line.trim_end().strip_prefix("cmdstat_auth:")) else {
        return (0, 0);
    };
    let field = |name: &str| -> u64 {
        stats
            .split(',')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{addr}: no {name} in cmdstat_auth:{stats}"))
    };
    (field("calls"), field("failed_calls"))
}
