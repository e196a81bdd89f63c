//! The exporter's own endpoint (exporter-toolkit web config): basic auth, HTTPS,
//! client certificates, and web config files that stop the binary at start.

use crate::exporter_support::{HttpResponse, start_exporter};
use crate::support::http::{self, tls_client_config};
use crate::support::pki::Pki;
use crate::support::{self, ExporterBinary};
use crate::{path, plain, start_error};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

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
