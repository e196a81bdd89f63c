//! ACL users and the `ACL LOG`, on every node of a cluster (ACLs are per node).

use super::cluster::ValkeyCluster;
use super::resp::Value;

/// The README's rule for the exporter's user on Valkey 8: the commands it sends
/// (`CLUSTER SLOTS`, `CLUSTER SLOT-STATS`, `CLUSTER SHARDS` for slot-less primaries,
/// `CLUSTER NODES` for open slots, `INFO server` for versions), plus `CLIENT ID`, which
/// the client library (fred) sends after AUTH on every new connection along with `INFO
/// server`. AUTH itself needs no permission. No keys, no channels. Read from the README
/// itself, so that the tests prove what users copy.
pub fn exporter_rules() -> Vec<String> {
    readme_rule("exporter", |rule| !lists_jobs(rule))
}

/// The README's rule for Valkey 9.0+, which also lists migration jobs (`CLUSTER
/// GETSLOTMIGRATIONS`); Valkey 8 refuses that name in `ACL SETUSER`.
pub fn exporter_rules_valkey9() -> Vec<String> {
    readme_rule("exporter", lists_jobs)
}

/// The README's rule for `plan --apply` on Valkey 8 (the classic steps): the
/// exporter's commands plus `SETSLOT`, `GETKEYSINSLOT`, `COUNTKEYSINSLOT` (the report on
/// a slot left open) and `MIGRATE` with its keys; on the target, the source logs in as
/// the same user to send `RESTORE-ASKING` (after `SELECT 0`).
pub fn apply_rules() -> Vec<String> {
    readme_rule("mover", |_| true)
}

/// [`apply_rules`] for Valkey 9.0+, with listing, starting and cancelling migration
/// jobs, which the README adds in prose: "On Valkey 9.0+, add `+cluster|getslotmigrations
/// ...`" (Valkey 8 refuses these names in `ACL SETUSER`).
pub fn apply_rules_valkey9() -> Vec<String> {
    let readme = readme();
    let (_, added) = readme.split_once("On Valkey 9.0+, add `").expect("the README's Valkey 9 addition for --apply");
    let (added, _) = added.split_once('`').expect("the addition in backquotes");
    let mut rules = apply_rules();
    rules.extend(added.split_whitespace().map(str::to_owned));
    rules
}

fn lists_jobs(rule: &[String]) -> bool {
    rule.iter().any(|word| word == "+cluster|getslotmigrations")
}

/// The rules of the one `ACL SETUSER <user> ...` line in the README that `wanted`
/// picks, without the placeholder password.
fn readme_rule(user: &str, wanted: impl Fn(&[String]) -> bool) -> Vec<String> {
    let readme = readme();
    let prefix = format!("ACL SETUSER {user} ");
    let rules: Vec<Vec<String>> = readme
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .map(|rest| rest.split_whitespace().filter(|word| *word != ">PASSWORD").map(str::to_owned).collect::<Vec<_>>())
        .filter(|rule| wanted(rule))
        .collect();
    assert_eq!(rules.len(), 1, "one README line `{prefix}...` of the kind wanted: {rules:?}");
    rules.into_iter().next().unwrap_or_default()
}

/// Creates (or resets) `user` with `rules` and `password` on every node, then clears
/// `ACL LOG` so that later entries are the exporter's doing.
pub fn create_user(cluster: &ValkeyCluster, user: &str, rules: &[impl AsRef<str>], password: &str) {
    let password = format!(">{password}");
    for addr in cluster.node_addrs() {
        let mut args = vec!["ACL", "SETUSER", user, "reset"];
        args.extend(rules.iter().map(AsRef::as_ref));
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

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
}
