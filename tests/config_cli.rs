//! Start-up configuration through the real binary: flags, environment and TOML file,
//! and the errors an operator sees when one of them is wrong.

mod support;

use support::ExporterBinary;

#[test]
fn help_documents_every_flag_and_no_secret() {
    let output = ExporterBinary::run(&["--help"], &[("VALKEY_SLOT_EXPORTER_PASSWORD", "hunter2-env")]);
    assert!(output.status.success());
    let help = &output.stdout;
    for flag in [
        "--listen",
        "--nodes",
        "--username",
        "--password",
        "--password-file",
        "--cache-ttl",
        "--node-timeout",
        "--include-replicas",
        "--config",
        "--log-level",
        "--log-format",
        "--http-header-timeout",
        "--http-idle-timeout",
        "--http-send-timeout",
        "--http2-max-concurrent-streams",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    assert!(help.contains("9765"), "default port documented");
    assert!(help.contains("VALKEY_SLOT_EXPORTER_"), "environment documented");
    assert!(!help.contains("hunter2"));
}

#[test]
fn a_bad_flag_value_names_the_flag() {
    let output = ExporterBinary::run(&["--cache-ttl", "thirty"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let err = output.stderr;
    assert!(err.contains("--cache-ttl") && err.contains("thirty"), "{err}");
}

#[test]
fn a_bad_environment_value_names_the_variable() {
    let output = ExporterBinary::run(&[], &[("VALKEY_SLOT_EXPORTER_NODE_TIMEOUT", "forever")]);
    assert_eq!(output.status.code(), Some(2));
    let err = output.stderr;
    assert!(err.contains("VALKEY_SLOT_EXPORTER_NODE_TIMEOUT"), "{err}");
}

#[test]
fn ttls_and_http_limits_out_of_range_from_the_environment_name_the_variable() {
    for (variable, value, why) in [
        ("VALKEY_SLOT_EXPORTER_CACHE_TTL", "500ms", "at least 1s"),
        ("VALKEY_SLOT_EXPORTER_NODE_TIMEOUT", "45s", "at most the TTL"),
        ("VALKEY_SLOT_EXPORTER_HTTP_HEADER_TIMEOUT", "50ms", "out of range"),
        ("VALKEY_SLOT_EXPORTER_HTTP_IDLE_TIMEOUT", "2h", "out of range"),
        ("VALKEY_SLOT_EXPORTER_HTTP_SEND_TIMEOUT", "forever", "invalid duration"),
        ("VALKEY_SLOT_EXPORTER_HTTP2_MAX_CONCURRENT_STREAMS", "0", "out of range"),
    ] {
        let output = ExporterBinary::run(&[], &[(variable, value)]);
        assert_eq!(output.status.code(), Some(2), "{variable}={value}");
        let err = output.stderr;
        assert!(err.contains(&format!("environment variable {variable}")) && err.contains(why), "{err}");
    }
}

#[test]
fn an_unknown_environment_key_is_refused() {
    let output = ExporterBinary::run(&[], &[("VALKEY_SLOT_EXPORTER_CACHE_TLL", "30s")]);
    assert_eq!(output.status.code(), Some(2));
    let err = output.stderr;
    assert!(err.contains("cache_tll") || err.contains("CACHE_TLL"), "{err}");
}

#[test]
fn config_file_unknown_keys_and_bad_values_name_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exporter.toml");
    std::fs::write(&path, "nodes = [\"redis://127.0.0.1:7000\"]\ncache_tl = \"30s\"\n").unwrap();
    let output = ExporterBinary::run(&["--config", path.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(2));
    let err = output.stderr;
    assert!(err.contains("cache_tl") && err.contains("exporter.toml"), "{err}");

    std::fs::write(&path, "node_timeout = \"soon\"\n").unwrap();
    let err = ExporterBinary::run(&["--config", path.to_str().unwrap()], &[]).stderr;
    assert!(err.contains("node_timeout") && err.contains("exporter.toml"), "{err}");

    std::fs::write(&path, "nodes = [\"http://127.0.0.1:7000\"]\n").unwrap();
    let err = ExporterBinary::run(&["--config", path.to_str().unwrap()], &[]).stderr;
    assert!(err.contains("nodes") && err.contains("exporter.toml") && err.contains("scheme"), "{err}");
}

#[test]
fn a_missing_config_file_is_an_error() {
    let output = ExporterBinary::run(&["--config", "/nonexistent/exporter.toml"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stderr.contains("/nonexistent/exporter.toml"));
}

#[test]
fn layers_apply_in_order_flags_over_environment_over_file() {
    // The listen address is the one observable without a server: a port in use fails
    // the start with the address that won.
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = blocker.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exporter.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:1\"\n").unwrap();
    let output = ExporterBinary::run(
        &["--config", path.to_str().unwrap(), "--listen", &taken],
        &[("VALKEY_SLOT_EXPORTER_LISTEN", "127.0.0.1:2")],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stderr.contains(&taken), "{}", output.stderr);

    let output = ExporterBinary::run(&["--config", path.to_str().unwrap()], &[("VALKEY_SLOT_EXPORTER_LISTEN", &taken)]);
    assert!(output.stderr.contains(&taken), "environment beats the file: {}", output.stderr);
}

#[test]
fn passwords_never_appear_in_errors_or_logs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "from-file-s3cret\n").unwrap();
    let output = ExporterBinary::run(
        &["--password-file", file.to_str().unwrap(), "--cache-ttl", "bad", "--log-level", "trace"],
        &[("VALKEY_SLOT_EXPORTER_PASSWORD", "env-s3cret")],
    );
    let err = output.stderr;
    assert!(!err.contains("s3cret"), "{err}");
    assert!(err.contains("choose one") || err.contains("--cache-ttl"), "{err}");

    let output = ExporterBinary::run(&["--nodes", "redis://user:url-s3cret@127.0.0.1:1"], &[]);
    let err = output.stderr;
    assert_eq!(output.status.code(), Some(2));
    assert!(!err.contains("url-s3cret") && err.contains("credentials"), "{err}");
}
