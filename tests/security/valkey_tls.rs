//! TLS to Valkey: server verification, client certificates, no plain-text fallback,
//! and misconfigurations that stop the binary at start naming the key.

use crate::exporter_support::{self, start_exporter};
use crate::support::SLOT_COUNT;
use crate::support::pki::Pki;
use crate::support::tls::{ClientCerts, TlsValkey};
use crate::{path, start_error};
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The JSON error of a refresh in which the one node failed, after checking that the
/// API answered 503 and `/metrics` shows the node down.
async fn unreachable_error(exporter: &exporter_support::RunningExporter) -> serde_json::Value {
    let api = exporter.get("/api/cluster/slot-stats").await;
    assert_eq!(api.status, 503, "{}", api.text());
    let metrics = exporter.metrics().await;
    let failures: Vec<&exporter_support::Sample> = metrics.named("valkey_node_up").filter(|s| s.value == 0.0).collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    api.json()["error"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_right_ca_reads_every_slot_over_the_tls_port_only() {
    let pki = Pki::generate();
    let server = TlsValkey::start(&pki, ClientCerts::Optional);
    // What the exporter will learn: asked over TLS, the node announces its TLS port.
    let tls_slots = tls_cluster_slots_port(&server, &pki);
    assert_eq!(tls_slots, server.tls_port(), "CLUSTER SLOTS over TLS announces the TLS port");
    let plain_slots = server.cmd(&["CLUSTER", "SLOTS"]);
    let plain_entry = &plain_slots.as_array().unwrap()[0].as_array().unwrap()[2];
    let announced = plain_entry.as_array().unwrap()[1].as_int();
    assert_eq!(announced, Some(i64::from(server.plain_port())), "and over plain text the plain port");

    for scheme in ["rediss", "valkeys"] {
        let url = format!("{scheme}://{}", server.tls_addr());
        let exporter = start_exporter(&["--nodes", &url, "--tls-ca-file", path(&pki.ca_cert)]).await;
        let api = exporter.get("/api/cluster/slot-stats").await;
        assert_eq!(api.status, 200, "{}", api.text());
        assert_eq!(api.json()["data"]["total_slots"], SLOT_COUNT, "{}", api.text());
        assert_eq!(api.json()["data"]["nodes_failed"], serde_json::json!([]));
        let metrics = exporter.metrics().await;
        let slots = metrics.by_slot("valkey_slot_keys");
        assert_eq!(slots.len(), usize::from(SLOT_COUNT));
        assert!(slots.values().all(|(node, _)| *node == server.tls_addr()), "every slot from the TLS address");
        assert_eq!(metrics.node_value("valkey_node_up", &server.tls_addr()), Some(1.0));

        // The exporter's connection is on the TLS port, and nothing of it on the plain one.
        let on_tls = server.clients_on_port(server.tls_port());
        assert!(!on_tls.is_empty(), "the exporter holds a connection on the TLS port");
        assert_eq!(server.clients_on_port(server.plain_port()), Vec::<String>::new());
        exporter.stop().await;
    }
}

/// The port `CLUSTER SLOTS` announces when asked over TLS, using `openssl s_client`
/// as an independent TLS client.
fn tls_cluster_slots_port(server: &TlsValkey, pki: &Pki) -> u16 {
    let mut child = Command::new("openssl")
        .args(["s_client", "-quiet", "-verify_return_error", "-CAfile", path(&pki.ca_cert)])
        .args(["-connect", &server.tls_addr()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run openssl s_client");
    child.stdin.take().unwrap().write_all(b"CLUSTER SLOTS\r\nQUIT\r\n").unwrap();
    let mut reply = String::new();
    child.stdout.take().unwrap().read_to_string(&mut reply).unwrap();
    child.wait().unwrap();
    // *1 / *3 / :0 / :16383 / *4 / $0 / (empty: a lone node does not know its IP) / :PORT / ...
    let lines: Vec<&str> = reply.lines().collect();
    assert_eq!(lines.get(2..4), Some(&[":0", ":16383"][..]), "{reply:?}");
    let port = lines[4..].iter().find_map(|l| l.strip_prefix(':')).unwrap_or_else(|| panic!("no port in {reply:?}"));
    port.parse().unwrap_or_else(|_| panic!("bad port in {reply:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_valkey_requires_client_certificates_the_exporter_presents_one() {
    let pki = Pki::generate();
    let server = TlsValkey::start(&pki, ClientCerts::Required);
    let ca = ["--nodes", &server.tls_url(), "--tls-ca-file", path(&pki.ca_cert), "--node-timeout", "2s"];

    let mut flags = ca.to_vec();
    flags.extend(["--tls-client-cert-file", path(&pki.client_cert), "--tls-client-key-file", path(&pki.client_key)]);
    let exporter = start_exporter(&flags).await;
    let api = exporter.get("/api/cluster/slot-stats").await;
    assert_eq!(api.status, 200, "{}", api.text());
    assert_eq!(api.json()["data"]["total_slots"], SLOT_COUNT);
    exporter.stop().await;

    let exporter = start_exporter(&ca).await;
    let error = unreachable_error(&exporter).await;
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(&format!("{}: tls error", server.tls_addr())), "{error}");
    exporter.stop().await;

    let mut flags = ca.to_vec();
    flags.extend([
        "--tls-client-cert-file",
        path(&pki.other_client_cert),
        "--tls-client-key-file",
        path(&pki.other_client_key),
    ]);
    let exporter = start_exporter(&flags).await;
    let error = unreachable_error(&exporter).await;
    assert!(error["message"].as_str().unwrap().contains("tls error"), "a certificate from another CA: {error}");
    exporter.stop().await;
    assert_eq!(server.clients_on_port(server.plain_port()), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_from_another_ca_is_refused_with_no_plain_text_fallback() {
    let pki = Pki::generate();
    let server = TlsValkey::start(&pki, ClientCerts::Optional);
    let exporter = start_exporter(&[
        "--nodes",
        &server.tls_url(),
        "--tls-ca-file",
        path(&pki.other_ca_cert),
        "--node-timeout",
        "1s",
        "--cache-ttl",
        "1s",
    ])
    .await;
    for _ in 0..3 {
        let error = unreachable_error(&exporter).await;
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(&format!("{}: tls error", server.tls_addr())), "{error}");
        assert!(message.contains("server certificate not trusted: unknown issuer"), "a sentence: {error}");
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let metrics = exporter.metrics().await;
    assert_eq!(metrics.node_value("valkey_node_up", &server.tls_addr()), Some(0.0));
    assert_eq!(metrics.named("valkey_slot_keys").count(), 0);
    // No connection survived on either port, and the server never ran a command the
    // exporter sends, on any port: the refused handshake was not followed by plain text.
    assert_eq!(server.clients_on_port(server.tls_port()), Vec::<String>::new());
    assert_eq!(server.clients_on_port(server.plain_port()), Vec::<String>::new());
    let commandstats = server.cmd(&["INFO", "commandstats"]);
    let commandstats = commandstats.as_str().unwrap();
    assert!(commandstats.contains("cmdstat_cluster|info:"), "the harness's own commands are counted: {commandstats}");
    // What the exporter's client sends first on a connection without a password is PING.
    for command in ["ping", "cluster|slots", "cluster|slot-stats"] {
        assert!(!commandstats.contains(&format!("cmdstat_{command}:")), "{command} ran:\n{commandstats}");
    }
    exporter.stop().await;
}

#[test]
fn tls_misconfiguration_stops_the_binary_at_start_naming_the_key() {
    let pki = Pki::generate();
    let missing = pki.dir().join("missing-ca.crt");
    let tls = "rediss://127.0.0.1:1";

    let err = start_error(&["--nodes", tls, "--tls-ca-file", path(&missing)]);
    assert!(err.contains("--tls-ca-file") && err.contains("missing-ca.crt"), "{err}");

    let err = start_error(&["--nodes", tls, "--tls-client-cert-file", path(&pki.client_cert)]);
    assert!(err.contains("--tls-client-cert-file") && err.contains("tls_client_key_file"), "{err}");
    let err = start_error(&["--nodes", tls, "--tls-client-key-file", path(&pki.client_key)]);
    assert!(err.contains("--tls-client-key-file") && err.contains("tls_client_cert_file"), "{err}");

    for flag in ["--tls-ca-file", "--tls-client-cert-file", "--tls-client-key-file"] {
        let err = start_error(&["--nodes", "redis://127.0.0.1:1", flag, path(&pki.ca_cert)]);
        assert!(err.contains(flag) && err.contains("rediss://"), "{flag}: {err}");
    }

    // With a client certificate configured too, a missing CA file is still blamed on
    // the CA flag, and a missing key file on the key flag.
    let pair = ["--tls-client-cert-file", path(&pki.client_cert), "--tls-client-key-file", path(&pki.client_key)];
    let mut args = vec!["--nodes", tls, "--tls-ca-file", path(&missing)];
    args.extend(pair);
    let err = start_error(&args);
    assert!(err.contains("--tls-ca-file") && err.contains("missing-ca.crt"), "{err}");
    let with_key = |key: &Path| {
        let (ca, cert) = (path(&pki.ca_cert), path(&pki.client_cert));
        start_error(&[
            "--nodes",
            tls,
            "--tls-ca-file",
            ca,
            "--tls-client-cert-file",
            cert,
            "--tls-client-key-file",
            path(key),
        ])
    };
    let err = with_key(&pki.dir().join("missing.key"));
    assert!(err.contains("--tls-client-key-file") && err.contains("missing.key"), "{err}");
    // A key that does not belong to the certificate.
    let err = with_key(&pki.server_key);
    assert!(err.contains("--tls-client-cert-file") && err.contains("do not match"), "{err}");
}
