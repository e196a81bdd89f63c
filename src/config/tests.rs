use super::*;

/// The key an error blames and where its value came from, which is what these tests
/// check; the wording is checked where it is the point.
fn blamed(e: &ConfigError) -> (Option<&str>, Option<&str>) {
    (e.key(), e.origin())
}

fn cli(args: &[&str]) -> Cli {
    let mut all = vec!["valkey-slot-exporter"];
    all.extend_from_slice(args);
    Cli::try_parse_from(all).expect("flags parse")
}

#[test]
fn defaults_are_sane() {
    let s = load(cli(&[])).expect("defaults load");
    assert_eq!(s.listen.port(), DEFAULT_PORT);
    let c = &s.clusters[0];
    assert_eq!(c.name, "default");
    assert_eq!(c.cache_ttl, Duration::from_secs(30));
    assert_eq!(c.seeds[0].addr.as_str(), "localhost:6379");
    assert!(!c.include_replicas);
}

#[test]
fn flags_override_and_parse() {
    let s = load(cli(&[
        "--nodes",
        "redis://a:1,valkey://b:2",
        "--cache-ttl",
        "2m",
        "--node-timeout",
        "1500ms",
        "--include-replicas",
        "--listen",
        ":9999",
    ]))
    .expect("loads");
    assert_eq!(s.listen.to_string(), "0.0.0.0:9999");
    let s = &s.clusters[0];
    assert_eq!(s.seeds.len(), 2);
    assert_eq!(s.cache_ttl, Duration::from_secs(120));
    assert_eq!(s.node_timeout, Duration::from_millis(1500));
    assert!(s.include_replicas);
}

#[test]
fn bad_flag_values_name_the_flag() {
    let e = Cli::try_parse_from(["valkey-slot-exporter", "--cache-ttl", "soon"]).unwrap_err().to_string();
    assert!(e.contains("--cache-ttl") && e.contains("e.g. 30s"), "{e}");
    let e = load(cli(&["--nodes", "http://x"])).unwrap_err();
    assert_eq!(blamed(&e), (Some("nodes"), Some("command-line flag --nodes")));
    let e = load(cli(&["--node-timeout", "0s"])).unwrap_err();
    assert_eq!(blamed(&e), (Some("node_timeout"), Some("command-line flag --node-timeout")));
}

#[test]
fn slot_profiles_and_range_sizes() {
    let s = load(cli(&["--slot-series", "top:50", "--slot-range-size", "256"])).expect("loads");
    assert_eq!((s.clusters[0].slot_series, s.clusters[0].slot_range_size), (SlotSeries::Top(50), 256));
    let defaults = load(cli(&[])).expect("loads");
    let d = &defaults.clusters[0];
    assert_eq!((d.slot_series, d.slot_range_size), (SlotSeries::All, 128));
    let e = load(cli(&["--slot-range-size", "100"])).unwrap_err();
    assert_eq!(blamed(&e), (Some("slot_range_size"), Some("command-line flag --slot-range-size")));
    assert_eq!(load(cli(&["--slot-range-size", "0"])).unwrap_err().key(), Some("slot_range_size"));
    let e = Cli::try_parse_from(["valkey-slot-exporter", "--slot-series", "top:0"]).unwrap_err().to_string();
    assert!(e.contains("--slot-series") && e.contains("top:N"), "{e}");
}

#[test]
fn mixed_tls_is_refused() {
    let e = load(cli(&["--nodes", "rediss://a:1,redis://b:2"])).unwrap_err();
    assert_eq!(blamed(&e), (Some("nodes"), Some("command-line flag --nodes")));
    assert!(e.message().contains("mix TLS"), "{e}");
}

#[test]
fn password_and_file_together_are_refused_without_echo() {
    let e = load(cli(&["--password", "hunter2", "--password-file", "/nonexistent"])).unwrap_err();
    assert_eq!(blamed(&e), (Some("password"), None), "the message names both layers");
    let shown = e.to_string();
    assert!(shown.contains("command-line flag --password-file") && !shown.contains("hunter2"), "{shown}");
}

/// `load` with a TOML file holding `toml`.
fn load_file(toml: &str, flags: &[&str]) -> Result<Settings, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exporter.toml");
    std::fs::write(&path, toml).unwrap();
    std::fs::write(dir.path().join("pw-b"), "secret-b\n").unwrap();
    let toml = std::fs::read_to_string(&path).unwrap().replace("PW_B", &dir.path().join("pw-b").display().to_string());
    std::fs::write(&path, toml).unwrap();
    let mut args = vec!["--config", path.to_str().unwrap()];
    args.extend_from_slice(flags);
    load(cli(&args))
}

const TWO_CLUSTERS: &str = r#"
cache_ttl = "10s"
slot_series = "top:50"
[clusters.prod-a]
nodes = ["redis://a1:7000", "redis://a2:7000"]
username = "exporter"
password = "secret-a"
cache_ttl = "20s"
[clusters.b_2]
nodes = "redis://b1:7000"
password_file = "PW_B"
include_replicas = true
slot_series = "none"
"#;

#[test]
fn cluster_tables_override_the_top_level_defaults() {
    let s = load_file(TWO_CLUSTERS, &[]).expect("loads");
    let names: Vec<&str> = s.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["b_2", "prod-a"], "in name order");
    let (b, a) = (&s.clusters[0], &s.clusters[1]);
    assert_eq!((a.cache_ttl, a.slot_series, a.include_replicas), (Duration::from_secs(20), SlotSeries::Top(50), false));
    assert_eq!((b.cache_ttl, b.slot_series, b.include_replicas), (Duration::from_secs(10), SlotSeries::None, true));
    assert_eq!(a.seeds.len(), 2);
    assert_eq!(a.password.as_ref().unwrap().expose(), "secret-a");
    assert_eq!(b.password.as_ref().unwrap().expose(), "secret-b");
    assert_eq!(a.username.as_deref(), Some("exporter"));
    assert_eq!(b.username, None, "credentials never flow from one table to another");
    assert_eq!(s.cluster(Some("b_2")).unwrap().name, "b_2");
    let e = s.cluster(None).unwrap_err();
    assert_eq!(blamed(&e), (Some("cluster"), None));
    assert_eq!(
        e.to_string(),
        "configuration error: several clusters are configured; choose one with --cluster (b_2, prod-a)"
    );
    let e = s.cluster(Some("c")).unwrap_err();
    assert_eq!(e.message(), "no cluster named `c` is configured (configured: b_2, prod-a)");
}

#[test]
fn flat_credentials_or_nodes_next_to_tables_are_refused_naming_both() {
    for (flag, value) in [("--nodes", "redis://x:1"), ("--username", "u"), ("--password", "hunter2")] {
        let e = load_file(TWO_CLUSTERS, &[flag, value]).unwrap_err();
        assert_eq!(e.key(), Some(&flag[2..]), "{e}");
        let shown = e.to_string();
        assert!(shown.contains(flag) && shown.contains("[clusters.NAME]") && shown.contains("TOML file"), "{shown}");
        assert!(!shown.contains("hunter2") && !shown.contains("secret-a"), "{shown}");
    }
}

#[test]
fn bad_tables_name_the_table_key() {
    let bad_name = "[clusters.Prod]\nnodes = \"redis://a:1\"\n";
    let e = load_file(bad_name, &[]).unwrap_err();
    assert_eq!(e.key(), Some("clusters.Prod"));
    assert!(e.origin().is_some_and(|o| o.starts_with("key `clusters.Prod` in TOML file")), "{e}");
    assert!(e.message().starts_with("cluster name `Prod`"), "{e}");
    let e = load_file("[clusters.a]\nusername = \"u\"\n", &[]).unwrap_err();
    assert_eq!((e.key(), e.message()), (Some("clusters.a.nodes"), "no seed nodes given"));
    let e = load_file("[clusters.a]\nnodes = \"http://a\"\n", &[]).unwrap_err();
    assert_eq!(e.key(), Some("clusters.a.nodes"));
    assert!(e.origin().is_some_and(|o| o.contains("TOML file")), "{e}");
    let e = load_file("[clusters.a]\nnodes = \"redis://a:1\"\nnode_timeout = \"0s\"\n", &[]).unwrap_err();
    assert_eq!(e.key(), Some("clusters.a.node_timeout"));
    let e = load_file("[clusters.a]\nnodes = \"redis://a:1\"\ncolour = \"red\"\n", &[]).unwrap_err();
    assert!(e.key().is_some_and(|k| k.starts_with("clusters.a")) && e.message().contains("colour"), "{e}");
    let e = load_file("[clusters.a]\nnodes = \"redis://a:1\"\npassword = \"p\"\npassword_file = \"/x\"\n", &[]);
    let e = e.unwrap_err();
    assert_eq!(blamed(&e), (Some("clusters.a.password"), None));
    assert!(e.message().contains("`password_file` (key `clusters.a.password_file` in TOML file"), "{e}");
    assert!(!e.to_string().contains("\"p\""), "{e}");
}

#[test]
fn the_sd_address_must_be_host_and_port() {
    let s = load(cli(&["--web-external-address", "exporter.example:9765"])).expect("loads");
    assert_eq!(s.web_external_address.as_deref(), Some("exporter.example:9765"));
    for bad in ["exporter.example", "http://x:1", "a b:1", "x:99999"] {
        let e = load(cli(&["--web-external-address", bad])).unwrap_err();
        let origin = Some("command-line flag --web-external-address");
        assert_eq!(blamed(&e), (Some("web_external_address"), origin), "{bad}: {e}");
    }
}

#[test]
fn cli_debug_redacts_password() {
    let c = cli(&["--password", "hunter2"]);
    assert!(!format!("{c:?}").contains("hunter2"));
}

/// `load` with `vars` as the environment's string settings.
fn load_env(vars: &[(&str, &str)], flags: &[&str]) -> Result<Settings, ConfigError> {
    load_with_env(cli(flags), env::RawStrings::from_vars(vars))
}

/// Values figment's `Env` would parse into something else (7, "spaced", a bool, a
/// list) or that hold the `=` of `NAME=value`.
const AWKWARD: [&str; 6] = ["007", " spaced ", "true", "[x]", "a=b=c", "1.5"];

#[test]
fn passwords_and_user_names_from_the_environment_are_taken_byte_for_byte() {
    for value in AWKWARD {
        let vars = [("VALKEY_SLOT_EXPORTER_PASSWORD", value), ("VALKEY_SLOT_EXPORTER_USERNAME", value)];
        let s = load_env(&vars, &[]).unwrap_or_else(|e| panic!("{value:?}: {e}"));
        let c = &s.clusters[0];
        assert_eq!(c.password.as_ref().map(Secret::expose), Some(value), "password {value:?}");
        assert_eq!(c.username.as_deref(), Some(value), "username {value:?}");
    }
}

#[test]
fn paths_from_the_environment_are_taken_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    for value in AWKWARD {
        // An absolute path ending in the awkward name: the file's contents prove which
        // path was opened.
        let path = dir.path().join(value);
        std::fs::write(&path, format!("pw-{value}\n")).unwrap();
        let vars = [("VALKEY_SLOT_EXPORTER_PASSWORD_FILE", path.to_str().unwrap())];
        let s = load_env(&vars, &[]).unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert_eq!(s.clusters[0].password.as_ref().unwrap().expose(), format!("pw-{value}"));
        // As a relative path that does not exist, the error repeats it unparsed and
        // names the variable.
        let e = load_env(&[("VALKEY_SLOT_EXPORTER_PASSWORD_FILE", value)], &[]).unwrap_err();
        let origin = Some("environment variable VALKEY_SLOT_EXPORTER_PASSWORD_FILE");
        assert_eq!(blamed(&e), (Some("password_file"), origin));
        assert!(e.message().starts_with(&format!("cannot read password file {value}: ")), "{value:?}: {e}");
    }
}

#[test]
fn other_string_settings_from_the_environment_are_not_trimmed_or_parsed() {
    for (key, value) in [("listen", " :9999"), ("log_format", "true"), ("web_external_address", "[x]")] {
        let variable = format!("VALKEY_SLOT_EXPORTER_{}", key.to_ascii_uppercase());
        let e = load_env(&[(&variable, value)], &[]).unwrap_err();
        let origin = format!("environment variable {variable}");
        assert_eq!(blamed(&e), (Some(key), Some(origin.as_str())));
        assert!(e.message().contains(&format!("`{value}`")), "quoted back unparsed: {e}");
    }
    // nodes: split on commas, the items never parsed.
    let s = load_env(&[("VALKEY_SLOT_EXPORTER_NODES", "redis://10.0.0.1:7000,redis://007:1")], &[]).unwrap();
    let seeds: Vec<&str> = s.clusters[0].seeds.iter().map(|n| n.addr.as_str()).collect();
    assert_eq!(seeds, ["10.0.0.1:7000", "007:1"]);
    // Flags still win over the environment.
    let s = load_env(&[("VALKEY_SLOT_EXPORTER_PASSWORD", "007")], &["--password", "flag"]).unwrap();
    assert_eq!(s.clusters[0].password.as_ref().unwrap().expose(), "flag");
}

#[test]
fn a_cache_ttl_below_one_second_is_refused_naming_the_key() {
    let e = load(cli(&["--cache-ttl", "999ms", "--node-timeout", "100ms"])).unwrap_err();
    assert_eq!(blamed(&e), (Some("cache_ttl"), Some("command-line flag --cache-ttl")));
    assert_eq!(e.message(), "cache TTL 999ms is too short (at least 1s)");
    let e = load_env(&[], &["--cache-ttl", "0s"]).unwrap_err();
    assert_eq!(blamed(&e), (Some("cache_ttl"), Some("command-line flag --cache-ttl")));
    let e = load_file("cache_ttl = \"500ms\"\nnode_timeout = \"100ms\"\n", &[]).unwrap_err();
    assert!(e.origin().is_some_and(|o| o.starts_with("key `cache_ttl` in TOML file")), "{e}");
    let table = "node_timeout = \"100ms\"\n[clusters.a]\nnodes = \"redis://a:1\"\ncache_ttl = \"200ms\"\n";
    let e = load_file(table, &[]).unwrap_err();
    assert!(e.origin().is_some_and(|o| o.starts_with("key `clusters.a.cache_ttl` in TOML file")), "{e}");
    let s = load(cli(&["--cache-ttl", "1s", "--node-timeout", "1s"])).expect("1s and a node timeout equal to it");
    assert_eq!((s.clusters[0].cache_ttl, s.clusters[0].node_timeout), (Duration::from_secs(1), Duration::from_secs(1)));
}

#[test]
fn a_node_timeout_longer_than_the_cache_ttl_is_refused_naming_both_keys() {
    let e = load(cli(&["--cache-ttl", "10s", "--node-timeout", "11s"])).unwrap_err();
    assert_eq!(blamed(&e), (Some("node_timeout"), None), "the message names both layers");
    assert_eq!(
        e.message(),
        "node timeout 11s (command-line flag --node-timeout) is longer than the cache TTL 10s (command-line flag \
         --cache-ttl); it must be at most the TTL, so that a refresh ends before the snapshot it replaces expires"
    );
    // The default 30s TTL against a flag.
    let e = load(cli(&["--node-timeout", "31s"])).unwrap_err();
    assert_eq!(e.key(), Some("node_timeout"));
    assert!(e.message().contains("(key `cache_ttl` (built-in default))"), "{e}");
    // A table's TTL over the top-level node timeout: checked after the overrides apply.
    let table = "node_timeout = \"5s\"\n[clusters.a]\nnodes = \"redis://a:1\"\ncache_ttl = \"2s\"\n";
    let e = load_file(table, &[]).unwrap_err();
    assert_eq!(e.key(), Some("node_timeout"), "inherited from the top level");
    assert!(e.message().contains("key `clusters.a.cache_ttl` in TOML file"), "{e}");
    let table = "[clusters.a]\nnodes = \"redis://a:1\"\nnode_timeout = \"31s\"\n";
    let e = load_file(table, &[]).unwrap_err();
    assert_eq!(e.key(), Some("clusters.a.node_timeout"));
    assert!(e.message().contains("key `cache_ttl` (built-in default)"), "{e}");
    let table = "[clusters.a]\nnodes = \"redis://a:1\"\ncache_ttl = \"2m\"\nnode_timeout = \"1m\"\n";
    assert_eq!(
        load_file(table, &[]).expect("a table may raise both").clusters[0].node_timeout,
        Duration::from_secs(60)
    );
}

#[test]
fn http_limits_come_from_every_layer_with_their_defaults() {
    assert_eq!(load(cli(&[])).unwrap().http_limits, HttpLimits::DEFAULT);
    let flags = [
        "--http-header-timeout",
        "2s",
        "--http-idle-timeout",
        "5m",
        "--http-send-timeout",
        "100ms",
        "--http2-max-concurrent-streams",
        "1000",
    ];
    let s = load(cli(&flags)).unwrap();
    let expected = HttpLimits {
        header_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(300),
        send_timeout: Duration::from_millis(100),
        http2_max_concurrent_streams: 1000,
    };
    assert_eq!(s.http_limits, expected);
    let file = "http_header_timeout = \"3s\"\nhttp_idle_timeout = \"1h\"\nhttp2_max_concurrent_streams = 1\n";
    let s = load_file(file, &[]).unwrap();
    assert_eq!(
        (s.http_limits.header_timeout, s.http_limits.idle_timeout),
        (Duration::from_secs(3), Duration::from_secs(3600))
    );
    assert_eq!((s.http_limits.send_timeout, s.http_limits.http2_max_concurrent_streams), (Duration::from_secs(30), 1));
}

#[test]
fn http_limits_out_of_range_are_refused_naming_the_key() {
    for (flag, value) in [
        ("--http-header-timeout", "99ms"),
        ("--http-idle-timeout", "61m"),
        ("--http-send-timeout", "0s"),
        ("--http2-max-concurrent-streams", "0"),
        ("--http2-max-concurrent-streams", "1001"),
    ] {
        let e = load(cli(&[flag, value])).unwrap_err();
        let (key, origin) = (flag[2..].replace('-', "_"), format!("command-line flag {flag}"));
        assert_eq!(blamed(&e), (Some(key.as_str()), Some(origin.as_str())), "{flag} {value}");
    }
    let e = load_file("http_send_timeout = \"2h\"\n", &[]).unwrap_err();
    assert!(e.origin().is_some_and(|o| o.starts_with("key `http_send_timeout` in TOML file")), "{e}");
    assert_eq!(e.message(), "2h is out of range (100ms to 1h)");
    let e = load_file("http_idle_timeout = 60\n", &[]).unwrap_err();
    assert_eq!(e.key(), Some("http_idle_timeout"));
    assert!(e.message().contains("with a unit"), "{e}");
}

#[test]
fn an_error_shows_its_message_then_where_the_value_came_from() {
    let e = load(cli(&["--max-connections", "0"])).unwrap_err();
    assert_eq!(blamed(&e), (Some("max_connections"), Some("command-line flag --max-connections")));
    assert_eq!(e.to_string(), "configuration error: must be at least 1 (from command-line flag --max-connections)");
    let missing = load(cli(&["--config", "/nonexistent/x.toml"])).unwrap_err();
    assert_eq!(blamed(&missing), (Some("config"), None));
}
