//! Moving slots between primaries the classic way, as `valkey-cli --cluster reshard`
//! does on every Valkey version: SETSLOT IMPORTING on the target, MIGRATING on the
//! source, MIGRATE the keys, then SETSLOT NODE on every primary.

use super::cluster::ValkeyCluster;

/// Moves `slots` from the primary `from` to the primary `to` (addresses "127.0.0.1:P"),
/// keys included; panics on any refusal.
pub fn migrate_slots(cluster: &ValkeyCluster, slots: &[u16], from: &str, to: &str) {
    let ids = cluster.node_ids();
    let (to_host, to_port) = to.split_once(':').expect("host:port");
    for slot in slots {
        let slot = slot.to_string();
        cluster.cmd(to, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &ids[from]]);
        cluster.cmd(from, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &ids[to]]);
        loop {
            let keys = cluster.cmd(from, &["CLUSTER", "GETKEYSINSLOT", &slot, "1000"]);
            let keys: Vec<&str> = keys.as_array().expect("key list").iter().map(|k| k.as_str().expect("key")).collect();
            if keys.is_empty() {
                break;
            }
            let mut args = vec!["MIGRATE", to_host, to_port, "", "0", "5000", "KEYS"];
            args.extend(keys);
            let reply = cluster.cmd(from, &args);
            assert_eq!(reply.as_str(), Some("OK"), "MIGRATE slot {slot}: {reply:?}");
        }
        for node in cluster.primaries() {
            cluster.cmd(&node, &["CLUSTER", "SETSLOT", &slot, "NODE", &ids[to]]);
        }
    }
}
