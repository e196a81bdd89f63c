//! Tests of the test harness itself (`tests/support`), against real servers.
//!
//! The exporter's integration tests trust the harness to say which node owns
//! which slot and how many keys each slot holds; if the harness were wrong, those
//! tests would pass or fail for the wrong reasons. These tests check the harness
//! against the servers' own answers, and check that no server outlives its test.

mod support;

use std::collections::{BTreeSet, HashSet};
use std::net::TcpStream;
use std::panic::{self, AssertUnwindSafe};
use std::thread;
use std::time::{Duration, Instant};

use support::{
    Conn, EXPECTED_KEYS_TOTAL, SLOT_COUNT, Standalone, ValkeyCluster, Value, eventually, expected_keys, fill, key_slot,
    slot_tag,
};

#[test]
fn key_slot_matches_the_cluster_spec() {
    // CRC16-XMODEM check value: crc("123456789") = 0x31C3.
    assert_eq!(key_slot(b"123456789"), 0x31C3);
    assert_eq!(key_slot(b"foo"), 12182);
    assert_eq!(key_slot(b"bar"), 5061);
    // Only the first {...} counts, and only when non-empty.
    assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
    assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
    assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
    assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
    assert_eq!(key_slot(b""), 0);
}

#[test]
fn slot_tags_cover_every_slot_with_short_tags() {
    for slot in 0..SLOT_COUNT {
        let tag = slot_tag(slot);
        assert_eq!(key_slot(tag.as_bytes()), slot, "tag {tag:?}");
        assert_eq!(key_slot(format!("{{{tag}}}:42").as_bytes()), slot);
        assert!(tag.len() <= 7, "tag {tag:?} for slot {slot} is long");
    }
}

#[test]
fn expected_keys_pattern_varies_and_has_empty_slots() {
    let counts: Vec<u64> = (0..SLOT_COUNT).map(expected_keys).collect();
    assert_eq!(counts.iter().sum::<u64>(), EXPECTED_KEYS_TOTAL);
    assert_eq!(counts.iter().max(), Some(&10));
    assert_eq!(expected_keys(9), 0);
    assert_ne!(expected_keys(0), expected_keys(1));
}

/// The main scenario of the exporter's tests, checked step by step.
#[test]
fn three_primaries_three_replicas_fill_and_teardown() {
    let started = Instant::now();
    let cluster = ValkeyCluster::start(3, 1);
    eprintln!("3+3 cluster up in {:?}", started.elapsed());

    check_layout(&cluster, 3, 1);
    check_key_slots_agree_with_server(&cluster);
    check_slot_stats_enabled(&cluster);

    let started = Instant::now();
    let total = fill(&cluster, expected_keys);
    eprintln!("fill wrote {total} keys in {:?}", started.elapsed());
    assert_eq!(total, EXPECTED_KEYS_TOTAL);
    check_counts_in_sample_slots(&cluster);
    check_dbsize_adds_up(&cluster, total);

    let addrs = cluster.node_addrs();
    drop(cluster);
    for addr in &addrs {
        assert_refused(addr);
        assert_refused(&bus_addr(addr));
    }
}

#[test]
fn one_node_cluster_owns_every_slot() {
    let cluster = ValkeyCluster::start(1, 0);
    let [node] = cluster.node_addrs().try_into().expect("one node");
    // The node does not know its own address (CLUSTER SLOTS shows an empty host);
    // the harness reports it as 127.0.0.1.
    assert_eq!(cluster.primaries(), std::slice::from_ref(&node));
    assert!(cluster.replicas().is_empty());
    assert!(cluster.slot_owners().iter().all(|owner| *owner == node));
    assert_eq!(cluster.seed_url(), format!("redis://{node}"));
}

#[test]
fn clusters_smaller_than_valkey_cli_allows_are_built_by_hand() {
    let cluster = ValkeyCluster::start(2, 1);
    check_layout(&cluster, 2, 1);
    let total = fill(&cluster, |slot| u64::from(slot % 3));
    check_dbsize_adds_up(&cluster, total);
}

/// `kill` is the tool of fault tests: the node is gone at once, the cluster
/// fails over to its replica, and the harness reports the new layout.
#[test]
fn killed_primary_is_replaced_by_its_replica() {
    let mut cluster = ValkeyCluster::start(3, 1);
    let victim = cluster.slot_owners()[0].clone();
    let replicas_before = cluster.replicas();
    cluster.kill(&victim);
    assert_refused(&victim);
    assert!(cluster.node_ids().contains_key(&victim), "killed nodes keep their id");

    let started = Instant::now();
    eventually(&format!("a failover of {victim}"), Duration::from_secs(30), Duration::from_millis(200), || {
        let owner = cluster.slot_owners()[0].clone();
        if owner == victim { Err(format!("slot 0 still on {owner}")) } else { Ok(()) }
    });
    eprintln!("failover took {:?}", started.elapsed());
    let new_owner = cluster.slot_owners()[0].clone();
    assert!(replicas_before.contains(&new_owner), "{new_owner} was not a replica");
    assert!(cluster.primaries().contains(&new_owner));
    // Dropping the cluster must cope with the node that is already dead.
}

#[test]
fn standalone_valkey_has_cluster_support_disabled() {
    let server = Standalone::valkey();
    assert_eq!(server.url(), format!("redis://{}", server.addr()));
    let reply = server.cmd(&["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "0", "1"]);
    let error = reply.as_error().expect("an error reply");
    assert!(error.contains("cluster support disabled"), "{error}");
}

#[test]
fn redis7_cluster_works_but_has_no_slot_stats() {
    let server = Standalone::redis7_cluster();
    let info = server.cmd(&["INFO", "server"]);
    let info = info.as_str().expect("INFO is text");
    assert!(info.contains("redis_version:7."), "not Redis 7:\n{info}");
    let slots = server.cmd(&["CLUSTER", "COUNTKEYSINSLOT", "16383"]);
    assert_eq!(slots.as_int(), Some(0));
    let reply = server.cmd(&["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "0", "1"]);
    let error = reply.as_error().expect("an error reply");
    assert!(error.contains("unknown subcommand"), "{error}");
}

#[test]
fn pipeline_keeps_order_over_many_windows() {
    let server = Standalone::valkey();
    let mut conn = Conn::connect(&server.addr()).expect("connect");
    let commands = vec![vec!["INCR".to_owned(), "counter".to_owned()]; 25_000];
    let replies = conn.pipeline(&commands).expect("pipeline");
    let expected: Vec<Value> = (1..=25_000).map(Value::Int).collect();
    assert!(replies == expected, "replies out of order");
    assert_eq!(conn.cmd(&["GET", "counter"]).expect("GET").as_str(), Some("25000"));
    assert_eq!(conn.cmd(&["GET", "missing"]).expect("GET"), Value::Bulk(None));
    assert!(conn.cmd(&["NOSUCHCOMMAND"]).expect("reply").as_error().is_some());
}

#[test]
fn servers_are_killed_when_a_test_panics() {
    let mut addr = String::new();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let server = Standalone::valkey();
        addr = server.addr();
        panic!("deliberate panic: checking that the server is cleaned up");
    }));
    assert!(outcome.is_err());
    assert_refused(&addr);
}

/// `PR_SET_PDEATHSIG` is tied to the spawning thread: a server started on a
/// thread that exits dies with it, even though its handle is still alive. This is
/// the mechanism that stops a killed test process from leaving servers behind.
#[test]
fn servers_die_with_the_thread_that_started_them() {
    let server = thread::spawn(Standalone::valkey).join().expect("start a server on a helper thread");
    eventually("the server dies with its thread", Duration::from_secs(5), Duration::from_millis(20), || {
        if connects(&server.addr()) { Err("it still accepts connections") } else { Ok(()) }
    });
    drop(server); // must not fail on the already-dead child
}

/// Roles, slot ownership and node ids are consistent with the requested shape.
fn check_layout(cluster: &ValkeyCluster, primaries: usize, replicas_per_primary: usize) {
    let nodes: BTreeSet<String> = cluster.node_addrs().into_iter().collect();
    let primary_list = cluster.primaries();
    let replica_list = cluster.replicas();
    assert_eq!(primary_list.len(), primaries);
    assert_eq!(replica_list.len(), primaries * replicas_per_primary);
    let mut roles: BTreeSet<String> = primary_list.iter().cloned().collect();
    roles.extend(replica_list.iter().cloned());
    assert_eq!(roles, nodes, "every node is exactly one of primary or replica");

    let owners = cluster.slot_owners();
    assert_eq!(owners.len(), usize::from(SLOT_COUNT));
    let owning: BTreeSet<&String> = owners.iter().collect();
    assert_eq!(owning, primary_list.iter().collect(), "every primary owns slots");

    let ids = cluster.node_ids();
    assert_eq!(ids.keys().cloned().collect::<BTreeSet<_>>(), nodes);
    let distinct: HashSet<&String> = ids.values().collect();
    assert_eq!(distinct.len(), nodes.len());
    assert!(ids.values().all(|id| id.len() == 40), "{ids:?}");

    for replica in &replica_list {
        let role = cluster.cmd(replica, &["ROLE"]);
        let role = role.as_array().and_then(|fields| fields[0].as_str());
        assert_eq!(role, Some("slave"), "{replica}");
    }
}

/// `key_slot` and `slot_tag` agree with the server's CLUSTER KEYSLOT.
fn check_key_slots_agree_with_server(cluster: &ValkeyCluster) {
    let seed = &cluster.node_addrs()[0];
    let tagged: Vec<String> =
        [0, 1, 9, 5000, 12345, 16383].iter().map(|&slot| format!("{{{}}}:7", slot_tag(slot))).collect();
    let plain = ["foo", "bar", "{user1000}.following", "foo{}{bar}", "a{b}c{d}"];
    for key in plain.iter().copied().chain(tagged.iter().map(String::as_str)) {
        let server_slot = cluster.cmd(seed, &["CLUSTER", "KEYSLOT", key]).as_int();
        assert_eq!(server_slot, Some(i64::from(key_slot(key.as_bytes()))), "{key}");
    }
}

/// The nodes were started with `--cluster-slot-stats-enabled yes`, so slot
/// stats include CPU time (only present when that option is on).
fn check_slot_stats_enabled(cluster: &ValkeyCluster) {
    let owner = &cluster.slot_owners()[0];
    let reply = cluster.cmd(owner, &["CLUSTER", "SLOT-STATS", "SLOTSRANGE", "0", "0"]);
    let text = format!("{reply:?}");
    assert!(text.contains("key-count") && text.contains("cpu-usec"), "{text}");
}

/// CLUSTER COUNTKEYSINSLOT on the owner matches `expected_keys` on a sample.
fn check_counts_in_sample_slots(cluster: &ValkeyCluster) {
    let owners = cluster.slot_owners();
    let sample = (0..SLOT_COUNT).step_by(97).chain([SLOT_COUNT - 1]);
    for slot in sample {
        let owner = &owners[usize::from(slot)];
        let count = cluster.cmd(owner, &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]);
        let expected = i64::try_from(expected_keys(slot)).expect("small count");
        assert_eq!(count.as_int(), Some(expected), "slot {slot} on {owner}");
    }
}

/// The primaries together hold exactly the keys `fill` wrote.
fn check_dbsize_adds_up(cluster: &ValkeyCluster, total: u64) {
    let dbsize: i64 = cluster
        .primaries()
        .iter()
        .map(|primary| {
            let reply = cluster.cmd(primary, &["DBSIZE"]);
            reply.as_int().expect("DBSIZE is an integer")
        })
        .sum();
    assert_eq!(u64::try_from(dbsize).ok(), Some(total));
}

/// The cluster-bus address (port + 10000) of a node.
fn bus_addr(addr: &str) -> String {
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let port: u16 = port.parse().expect("numeric port");
    format!("{host}:{}", port + 10_000)
}

fn connects(addr: &str) -> bool {
    let addr = addr.parse().expect("a socket address");
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

fn assert_refused(addr: &str) {
    assert!(!connects(addr), "{addr} still accepts connections");
}
