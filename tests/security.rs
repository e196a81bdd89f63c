//! Security end to end, against real servers: ACL authentication to Valkey (and that the
//! password is never shown), TLS to Valkey (server verification, client certificates,
//! no plain-text fallback), and the exporter's own endpoint (exporter-toolkit web
//! config: HTTPS, basic auth, client certificates). Start-up errors go through the
//! real binary, which must exit 2 naming the offending key.

mod exporter_support;
mod support;

use clap::Parser;
use exporter_support::{HttpResponse, Metrics, start_exporter};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use support::acl;
use support::http::{self, tls_client_config};
use support::pki::Pki;
use support::tls::{ClientCerts, TlsValkey};
use support::{ExporterBinary, SLOT_COUNT, ValkeyCluster};
use valkey_slot_exporter::config::{self, Cli};

/// Distinctive, so that a leak cannot hide behind a common word.
const GOOD_PASSWORD: &str = "Gd-pw-7Qx3vKz9-Wq";
const WRONG_PASSWORD: &str = "Wr-pw-Lm4tZr8-Yn";
const ACL_USER: &str = "slotexporter";

/// The rule the README recommends.
const ACL_RULE: &[&str] = acl::EXPORTER_RULES;
/// The bare minimum that still reads every slot: the exporter tolerates the refusal of
/// the rest (no versions, no slot-less primaries, no open slots), which then shows up in
/// `ACL LOG`: `CLUSTER SHARDS` once, `CLIENT ID` and `INFO` once per connection,
/// `CLUSTER NODES` on every refresh.
const ACL_RULE_MINIMAL: &[&str] =
    &["on", "resetkeys", "resetchannels", "-@all", "+cluster|slots", "+cluster|slot-stats"];
const ACL_USER_MINIMAL: &str = "slotexporter-min";

// ---------------------------------------------------------------------------------
// Authentication to Valkey
// ---------------------------------------------------------------------------------

/// Creates both exporter users, with the same password, on every node.
fn create_acl_users(cluster: &ValkeyCluster) {
    acl::create_user(cluster, ACL_USER, ACL_RULE, GOOD_PASSWORD);
    acl::create_user(cluster, ACL_USER_MINIMAL, ACL_RULE_MINIMAL, GOOD_PASSWORD);
}

/// The exporter's stderr without terminal colour codes (the binary writes them even
/// to a file; see the report on `NO_COLOR`).
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters... final byte in @..~
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) && c != '[' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn assert_no_leak(what: &str, text: &str) {
    for secret in [GOOD_PASSWORD, WRONG_PASSWORD] {
        assert!(!text.contains(secret), "{what} contains the password {secret}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_least_privilege_acl_user_reads_every_slot_and_its_password_is_never_shown() {
    let cluster = ValkeyCluster::start(3, 0);
    create_acl_users(&cluster);
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, format!("{GOOD_PASSWORD}\n")).unwrap();
    let exporter = ExporterBinary::start(&[
        "--nodes",
        &cluster.seed_url(),
        "--username",
        ACL_USER,
        "--password-file",
        password_file.to_str().unwrap(),
        "--log-level",
        "trace",
    ]);

    let api = http::request(exporter.addr, "GET", "/api/cluster/slot-stats", &[]).await;
    assert_eq!(api.status, 200, "{}\n{}", api.text(), exporter.stderr());
    let data = &api.json()["data"];
    assert_eq!(data["total_slots"], SLOT_COUNT, "{}", api.text());
    assert_eq!(data["nodes_failed"], serde_json::json!([]), "{}", api.text());
    let metrics_body = http::request(exporter.addr, "GET", "/metrics", &[]).await.text().to_owned();
    let metrics = Metrics::parse(&metrics_body);
    assert_eq!(metrics.by_slot("valkey_slot_keys").len(), usize::from(SLOT_COUNT));
    for node in cluster.primaries() {
        assert_eq!(metrics.node_value("valkey_node_up", &node), Some(1.0), "{node}\n{metrics_body}");
    }
    // Nothing the exporter sent was refused: the rule is enough, not merely tolerated.
    assert_eq!(acl::denials(&cluster), vec![], "ACL denials with rule {ACL_RULE:?}");

    let log = plain(&exporter.stderr());
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "trace logging is on:\n{log}");
    assert_no_leak("stderr at trace level", &log);
    assert_no_leak("/metrics", &metrics_body);
    assert_no_leak("JSON", api.text());
    for path in ["/", "/api/cluster/slot-stats?slot=0-10", "/nope"] {
        let response = http::request(exporter.addr, "GET", path, &[]).await;
        assert_no_leak(path, response.text());
    }
    drop(exporter);

    // The bare minimum works too; only the optional commands are refused.
    let exporter =
        start_exporter(&["--nodes", &cluster.seed_url(), "--username", ACL_USER_MINIMAL, "--password", GOOD_PASSWORD])
            .await;
    let api = exporter.get("/api/cluster/slot-stats").await;
    assert_eq!(api.status, 200, "{}", api.text());
    assert_eq!(api.json()["data"]["total_slots"], SLOT_COUNT, "{}", api.text());
    assert_eq!(api.json()["data"]["nodes_failed"], serde_json::json!([]), "{}", api.text());
    let refused: std::collections::BTreeSet<(String, String)> =
        acl::denials(&cluster).into_iter().map(|d| (d.user, d.object)).collect();
    let expected = ["client|id", "info", "cluster|shards", "cluster|nodes"]
        .map(|object| (ACL_USER_MINIMAL.to_owned(), object.to_owned()));
    assert_eq!(refused, expected.into_iter().collect(), "with rule {ACL_RULE_MINIMAL:?}");
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_marks_every_node_down_with_authentication_failed_and_is_never_shown() {
    let cluster = ValkeyCluster::start(3, 0);
    create_acl_users(&cluster);
    let nodes: Vec<String> = cluster.node_addrs().iter().map(|a| format!("redis://{a}")).collect();
    let exporter = ExporterBinary::start(&[
        "--nodes",
        &nodes.join(","),
        "--username",
        ACL_USER,
        "--password",
        WRONG_PASSWORD,
        "--log-level",
        "trace",
        "--cache-ttl",
        "1s",
        "--node-timeout",
        "1s",
    ]);

    let metrics_body = http::request(exporter.addr, "GET", "/metrics", &[]).await.text().to_owned();
    let metrics = Metrics::parse(&metrics_body);
    for node in cluster.node_addrs() {
        assert_eq!(metrics.node_value("valkey_node_up", &node), Some(0.0), "{node}\n{metrics_body}");
    }
    assert_eq!(metrics.named("valkey_slot_keys").count(), 0);

    let api = http::request(exporter.addr, "GET", "/api/cluster/slot-stats", &[]).await;
    assert_eq!(api.status, 503, "{}", api.text());
    let body = api.json();
    assert_eq!(body["error"]["code"], "cluster_unreachable", "{}", api.text());
    let message = body["error"]["message"].as_str().unwrap();
    for node in cluster.node_addrs() {
        assert!(message.contains(&format!("{node}: authentication failed")), "{message}");
    }

    let log = plain(&exporter.stderr());
    for node in cluster.node_addrs() {
        let line = log
            .lines()
            .find(|l| l.contains("node did not answer") && l.contains(&format!("node={node}")))
            .unwrap_or_else(|| panic!("no failure line for {node}:\n{log}"));
        assert!(line.contains("authentication failed"), "{line}");
        assert!(line.contains("WRONGPASS"), "the server's reason is kept: {line}");
    }
    assert_no_leak("stderr at trace level", &log);
    assert_no_leak("/metrics", &metrics_body);
    assert_no_leak("JSON", api.text());
    let index = http::request(exporter.addr, "GET", "/", &[]).await;
    assert_no_leak("/", index.text());
}

#[test]
fn the_password_is_not_in_help_or_in_the_parsed_settings() {
    let output = ExporterBinary::run(&["--help"], &[("VALKEY_SLOT_EXPORTER_PASSWORD", GOOD_PASSWORD)]);
    assert!(output.status.success());
    assert_no_leak("--help", &output.stdout);
    assert_no_leak("--help stderr", &output.stderr);

    let parse = |args: &[&str]| {
        let mut argv = vec!["valkey-slot-exporter"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect("flags parse")
    };
    let cli = parse(&["--password", GOOD_PASSWORD, "--username", ACL_USER]);
    assert_no_leak("Debug of Cli", &format!("{cli:?}"));
    let settings = config::load(cli);
    let shown = format!("{settings:?}");
    assert!(shown.contains(ACL_USER) && shown.contains(config::REDACTED), "{shown}");
    assert_no_leak("Debug of Settings", &shown);
    assert_eq!(settings.unwrap().clusters[0].password.as_ref().unwrap().expose(), GOOD_PASSWORD);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, GOOD_PASSWORD).unwrap();
    let settings = config::load(parse(&["--password-file", file.to_str().unwrap()]));
    assert_no_leak("Debug of Settings (password file)", &format!("{settings:?}"));
    // A failed load names the problem, not the secret.
    let error = config::load(parse(&["--password", GOOD_PASSWORD, "--password-file", file.to_str().unwrap()]));
    assert_no_leak("configuration error", &error.unwrap_err().to_string());
}

// ---------------------------------------------------------------------------------
// TLS to Valkey
// ---------------------------------------------------------------------------------

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

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

/// Runs the binary, expects exit status 2, and returns its stderr.
fn start_error(args: &[&str]) -> String {
    let output = ExporterBinary::run(args, &[]);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {}", output.stderr);
    output.stderr
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
    let missing_key = pki.dir().join("missing.key");
    let err = start_error(&[
        "--nodes",
        tls,
        "--tls-ca-file",
        path(&pki.ca_cert),
        "--tls-client-cert-file",
        path(&pki.client_cert),
        "--tls-client-key-file",
        path(&missing_key),
    ]);
    assert!(err.contains("--tls-client-key-file") && err.contains("missing.key"), "{err}");
    // A key that does not belong to the certificate.
    let err = start_error(&[
        "--nodes",
        tls,
        "--tls-ca-file",
        path(&pki.ca_cert),
        "--tls-client-cert-file",
        path(&pki.client_cert),
        "--tls-client-key-file",
        path(&pki.server_key),
    ]);
    assert!(err.contains("--tls-client-cert-file") && err.contains("do not match"), "{err}");
}

// ---------------------------------------------------------------------------------
// The exporter's own endpoint
// ---------------------------------------------------------------------------------

const WEB_USER: &str = "prometheus";
const WEB_PASSWORD: &str = "scrape-pw-5Jk2";

fn basic(user: &str, password: &str) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let mut out = String::from("Basic ");
    for chunk in input.as_bytes().chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A web config file in `dir` with these contents.
fn web_config(dir: &Path, yaml: &str) -> String {
    let file = dir.join("web.yml");
    std::fs::write(&file, yaml).unwrap();
    file.to_str().unwrap().to_owned()
}

fn users_yaml() -> String {
    let hash = bcrypt::hash(WEB_PASSWORD, 4).unwrap();
    format!("basic_auth_users:\n  {WEB_USER}: '{hash}'\n")
}

fn tls_yaml(pki: &Pki) -> String {
    format!("tls_server_config:\n  cert_file: {}\n  key_file: {}\n", path(&pki.server_cert), path(&pki.server_key))
}

/// Seeds that refuse connections: the endpoint's behaviour does not depend on Valkey.
fn no_valkey() -> [String; 4] {
    let addr = support::free_local_addr();
    ["--nodes".into(), format!("redis://{addr}"), "--node-timeout".into(), "1s".into()]
}

/// One HTTPS GET on a fresh connection; `Err` says at which step it failed.
async fn https_get(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    target: &str,
    authorization: Option<&str>,
) -> Result<HttpResponse, String> {
    let mut request = http::Request::get(target).tls(config);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.try_send(addr).await
}

/// The error of a request that must not have been served.
fn refused(result: Result<HttpResponse, String>) -> String {
    match result {
        Ok(response) => panic!("served with status {}: {}", response.status, response.text()),
        Err(error) => error,
    }
}

fn assert_unauthorized(response: &HttpResponse) {
    assert_eq!(response.status, 401, "{}", response.text());
    assert!(response.header("www-authenticate").is_some_and(|v| v.starts_with("Basic ")), "{:?}", response.headers);
    assert_eq!(response.json()["error"]["code"], "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_alone_guards_every_path_over_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let mut flags: Vec<String> = no_valkey().to_vec();
    flags.extend(["--web-config-file".into(), web_config(dir.path(), &users_yaml())]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let exporter = start_exporter(&flags).await;

    let right = basic(WEB_USER, WEB_PASSWORD);
    for target in ["/metrics", "/healthz", "/", "/ui", "/ui/app.js", "/api/cluster/slot-stats", "/nope"] {
        assert_unauthorized(&exporter.get(target).await);
        assert_unauthorized(&exporter.request("GET", target, &[("authorization", &basic(WEB_USER, "wrong"))]).await);
        assert_unauthorized(&exporter.request("GET", target, &[("authorization", &basic("eve", WEB_PASSWORD))]).await);
        assert_unauthorized(&exporter.request("GET", target, &[("authorization", "Bearer x")]).await);
    }
    for target in ["/metrics", "/healthz", "/", "/ui", "/ui/app.js"] {
        let response = exporter.request("GET", target, &[("authorization", &right)]).await;
        assert_eq!(response.status, 200, "{target}: {}", response.text());
    }
    let metrics = exporter.request("GET", "/metrics", &[("authorization", &right)]).await;
    assert!(metrics.text().contains("valkey_node_up"), "{}", metrics.text());
    // Twice more: the verified-credentials cache gives the same answers.
    assert_eq!(exporter.request("GET", "/healthz", &[("authorization", &right)]).await.status, 200);
    assert_unauthorized(&exporter.request("GET", "/healthz", &[("authorization", &basic(WEB_USER, "wrong"))]).await);
    exporter.stop().await;
}

/// What the binary logs at debug level for every bcrypt run, and only then.
const BCRYPT_LOG_LINE: &str = "basic auth: bcrypt verification";

/// Against the real binary, with a hash of the cost people use: an unknown user costs a
/// bcrypt run like a wrong password, and repeated credentials, right or wrong, cost
/// one run each. Counted from the binary's debug log, never timed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_verifies_unknown_users_too_and_each_distinct_credential_once() {
    const UNKNOWN_USER: &str = "mallory-Zq8v";
    const GUESS: &str = "guess-pw-Rt6Wn3";
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash(WEB_PASSWORD, 10).unwrap();
    let mut flags: Vec<String> = no_valkey().to_vec();
    flags.extend([
        "--web-config-file".into(),
        web_config(dir.path(), &format!("basic_auth_users:\n  {WEB_USER}: '{hash}'\n")),
        "--log-level".into(),
        "debug".into(),
    ]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let exporter = ExporterBinary::start(&flags);

    let cases =
        [(basic(UNKNOWN_USER, WEB_PASSWORD), 401), (basic(WEB_USER, GUESS), 401), (basic(WEB_USER, WEB_PASSWORD), 200)];
    for (authorization, status) in &cases {
        for _ in 0..20 {
            let headers = [("authorization", authorization.as_str())];
            let response = support::http::request(exporter.addr, "GET", "/healthz", &headers).await;
            assert_eq!(response.status, *status, "{authorization}: {}", response.text());
        }
    }

    let log = plain(&exporter.stderr());
    let runs: Vec<&str> = log.lines().filter(|line| line.contains(BCRYPT_LOG_LINE)).collect();
    assert_eq!(runs.len(), 3, "one bcrypt run per distinct credentials:\n{log}");
    let outcomes: Vec<bool> = runs.iter().map(|line| line.contains("accepted")).collect();
    assert_eq!(outcomes, [false, false, true], "unknown user, wrong password, right one:\n{log}");
    for secret in
        [UNKNOWN_USER, GUESS, WEB_PASSWORD].into_iter().chain(cases.iter().map(|c| c.0.trim_start_matches("Basic ")))
    {
        assert!(!log.contains(secret), "the log shows `{secret}`:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_basic_auth_serves_only_tls_clients_with_credentials() {
    let pki = Pki::generate();
    let mut flags: Vec<String> = no_valkey().to_vec();
    flags.extend(["--web-config-file".into(), web_config(pki.dir(), &(tls_yaml(&pki) + &users_yaml()))]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let exporter = start_exporter(&flags).await;
    let trusted = tls_client_config(&pki.ca_cert, None);

    let right = basic(WEB_USER, WEB_PASSWORD);
    assert_unauthorized(&https_get(exporter.addr, trusted.clone(), "/metrics", None).await.unwrap());
    let wrong = basic(WEB_USER, "wrong");
    assert_unauthorized(&https_get(exporter.addr, trusted.clone(), "/metrics", Some(&wrong)).await.unwrap());
    // The page and what it loads too: a browser sends the same credentials for each.
    for target in ["/metrics", "/healthz", "/ui", "/ui/app.js"] {
        let response = https_get(exporter.addr, trusted.clone(), target, Some(&right)).await.unwrap();
        assert_eq!(response.status, 200, "{target}: {}", response.text());
    }

    // A client that does not trust the CA refuses the server's certificate.
    let untrusting = tls_client_config(&pki.other_ca_cert, None);
    let error = refused(https_get(exporter.addr, untrusting, "/healthz", Some(&right)).await);
    assert!(error.contains("TLS handshake") && error.contains("certificate"), "{error}");

    // Plain HTTP to the TLS port gets no HTTP answer, and the port keeps serving TLS.
    let reply = plain_http_exchange(exporter.addr).await;
    assert!(!reply.starts_with(b"HTTP/"), "plain HTTP was answered: {:?}", String::from_utf8_lossy(&reply));
    let response = https_get(exporter.addr, trusted, "/healthz", Some(&right)).await.unwrap();
    assert_eq!(response.status, 200);
    exporter.stop().await;
}

/// Writes a plain HTTP request and reads whatever comes back until the server closes.
async fn plain_http_exchange(addr: SocketAddr) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply)).await;
    // A reset is as good as a close: no HTTP either way.
    assert!(read.is_ok(), "the server neither answered nor closed within 5 s");
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_client_certificates_must_be_signed_by_the_client_ca() {
    let pki = Pki::generate();
    let yaml = format!(
        "{}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
        tls_yaml(&pki),
        path(&pki.ca_cert)
    );
    let mut flags: Vec<String> = no_valkey().to_vec();
    flags.extend(["--web-config-file".into(), web_config(pki.dir(), &yaml)]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let exporter = start_exporter(&flags).await;

    let with_cert = tls_client_config(&pki.ca_cert, Some((&pki.client_cert, &pki.client_key)));
    let response = https_get(exporter.addr, with_cert, "/metrics", None).await.unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.text().contains("valkey_node_up"));

    let without = tls_client_config(&pki.ca_cert, None);
    let error = refused(https_get(exporter.addr, without, "/healthz", None).await);
    assert!(error.to_lowercase().contains("certificate"), "{error}");

    let stranger = tls_client_config(&pki.ca_cert, Some((&pki.other_client_cert, &pki.other_client_key)));
    let error = refused(https_get(exporter.addr, stranger, "/healthz", None).await);
    assert!(error.to_lowercase().contains("certificate") || error.contains("alert"), "{error}");
    exporter.stop().await;
}

#[test]
fn bad_web_config_files_stop_the_binary_naming_file_and_key() {
    let pki = Pki::generate();
    let check = |yaml: &str, expected: &[&str]| {
        let file = web_config(pki.dir(), yaml);
        let err = start_error(&["--nodes", "redis://127.0.0.1:1", "--web-config-file", &file]);
        assert!(err.contains("web.yml") && err.contains("--web-config-file"), "{err}");
        for needle in expected {
            assert!(err.contains(needle), "expected `{needle}` in: {err}");
        }
        err
    };

    check(&format!("{}  cipher_suites: [TLS_AES_128_GCM_SHA256]\n", tls_yaml(&pki)), &["cipher_suites"]);
    check("http_server_config:\n  http2: false\n", &["http_server_config"]);
    let err = check(&format!("basic_auth_users:\n  {WEB_USER}: {WEB_PASSWORD}\n"), &["basic_auth_users", WEB_USER]);
    assert!(err.contains("bcrypt") && !err.contains(WEB_PASSWORD), "{err}");
    let missing = pki.dir().join("missing.crt");
    check(
        &format!("tls_server_config:\n  cert_file: {}\n  key_file: {}\n", path(&missing), path(&pki.server_key)),
        &["cert_file", "missing.crt"],
    );
    let missing = pki.dir().join("missing.key");
    check(
        &format!("tls_server_config:\n  cert_file: {}\n  key_file: {}\n", path(&pki.server_cert), path(&missing)),
        &["key_file", "missing.key"],
    );
    check(
        &format!("{}  client_auth_type: RequireAndVerifyClientCert\n", tls_yaml(&pki)),
        &["client_auth_type", "client_ca_file"],
    );
    let missing = pki.dir().join("missing-ca.crt");
    check(
        &format!(
            "{}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
            tls_yaml(&pki),
            path(&missing)
        ),
        &["client_ca_file", "missing-ca.crt"],
    );
    let err = start_error(&["--nodes", "redis://127.0.0.1:1", "--web-config-file", "/nonexistent/web.yml"]);
    assert!(err.contains("/nonexistent/web.yml") && err.contains("--web-config-file"), "{err}");
}
