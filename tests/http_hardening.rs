//! The exporter's HTTP endpoint under hostile or broken clients: oversized headers,
//! bodies, wrong methods, trickled headers, too many connections, bad parameters.
//! No Valkey is needed: every one of these is refused before a refresh.

mod exporter_support;
mod support;

use exporter_support::start_exporter;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Sends raw bytes and returns what came back before the server closed or 5 s passed.
fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or_default()
}

const NO_CLUSTER: [&str; 2] = ["--nodes", "redis://127.0.0.1:1"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_or_too_large_headers_get_431() {
    let exporter = start_exporter(&NO_CLUSTER).await;
    let addr = exporter.addr;
    let many: String = (0..200).map(|i| format!("X-Header-{i}: v\r\n")).collect();
    let response = tokio::task::spawn_blocking(move || {
        raw(addr, format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes())
    })
    .await
    .unwrap();
    assert!(status_line(&response).contains("431"), "{response}");
    let big = "a".repeat(64 * 1024);
    let response = tokio::task::spawn_blocking(move || {
        raw(addr, format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes())
    })
    .await
    .unwrap();
    assert!(status_line(&response).contains("431"), "{response}");
    // Still serving afterwards.
    assert_eq!(exporter.get("/healthz").await.status, 200);
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_and_other_methods_are_refused() {
    let exporter = start_exporter(&NO_CLUSTER).await;
    let addr = exporter.addr;
    let response = tokio::task::spawn_blocking(move || {
        raw(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
    })
    .await
    .unwrap();
    assert!(status_line(&response).contains("413"), "{response}");
    assert!(response.contains("body_not_allowed"));
    let chunked = tokio::task::spawn_blocking(move || {
        raw(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    })
    .await
    .unwrap();
    assert!(status_line(&chunked).contains("413"), "{chunked}");

    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        for path in ["/", "/metrics", "/healthz", "/api/cluster/slot-stats"] {
            let response = exporter.request(method, path, &[]).await;
            assert_eq!(response.status, 405, "{method} {path}");
            assert_eq!(response.header("allow"), Some("GET, HEAD"));
            assert_eq!(response.json()["error"]["code"], "method_not_allowed");
        }
    }
    let head = exporter.request("HEAD", "/healthz", &[]).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_headers_is_disconnected() {
    let exporter = start_exporter(&NO_CLUSTER).await;
    let addr = exporter.addr;
    let (closed_after, answer) = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let started = Instant::now();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
        let mut buf = [0u8; 512];
        // One header byte a second, never finishing; stop when the server hangs up.
        while started.elapsed() < Duration::from_secs(30) {
            if stream.write_all(b"X").is_err() {
                break;
            }
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => return (started.elapsed(), String::from_utf8_lossy(&buf[..n]).into_owned()),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(_) => std::thread::sleep(Duration::from_millis(800)),
            }
        }
        (started.elapsed(), String::new())
    })
    .await
    .unwrap();
    let limit = valkey_slot_exporter::config::HttpLimits::DEFAULT.header_timeout;
    assert!(closed_after >= limit - Duration::from_secs(1), "closed too early: {closed_after:?} ({answer})");
    assert!(closed_after < limit + Duration::from_secs(5), "still open after {closed_after:?}");
    assert!(!answer.contains("200 OK"), "{answer}");
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_idle_connections_make_room_and_only_busy_ones_turn_newcomers_away() {
    // A "node" that accepts and never answers: every /metrics waits for its refresh.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let node = format!("redis://{}", black_hole.local_addr().unwrap());
    let exporter = start_exporter(&["--nodes", &node, "--node-timeout", "5s", "--max-connections", "3"]).await;
    let addr = exporter.addr;
    let held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(exporter.get("/healthz").await.status, 200, "an idle connection made room");

    let waiting: Vec<_> = (0..3).map(|_| tokio::spawn(support::http::request(addr, "GET", "/metrics", &[]))).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let over = exporter.get("/healthz").await;
    assert_eq!(over.status, 503, "every place has a request in progress");
    assert_eq!(over.json()["error"]["code"], "too_many_connections");

    // Many more at once: refused or answered 503, never a crash.
    let flood: Vec<_> = (0..300).filter_map(|_| TcpStream::connect(addr).ok()).collect();
    drop(flood);
    drop(held);
    for request in waiting {
        let status = request.await.unwrap().status;
        assert!(matches!(status, 200 | 503), "answered once the refresh gave up on the node: {status}");
    }
    assert_eq!(exporter.get("/healthz").await.status, 200, "serving again once requests finish");
    exporter.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_bad_slot_parameter_gets_400_naming_it() {
    let exporter = start_exporter(&NO_CLUSTER).await;
    let hundred_digits = "1".repeat(100);
    let cases = [
        ("start_slot=-5".to_string(), "start_slot"),
        ("end_slot=16384".to_string(), "end_slot"),
        ("start_slot=2.0".to_string(), "start_slot"),
        ("end_slot=0xff".to_string(), "end_slot"),
        ("start_slot=".to_string(), "start_slot"),
        ("end_slot=1&end_slot=2".to_string(), "end_slot"),
        (format!("start_slot={hundred_digits}"), "start_slot"),
        ("start_slot=200&end_slot=100".to_string(), "start_slot"),
        ("start_slot=%31".to_string(), "start_slot"),
        ("foo=1".to_string(), "foo"),
    ];
    for (query, parameter) in cases {
        let response = exporter.get(&format!("/api/cluster/slot-stats?{query}")).await;
        assert_eq!(response.status, 400, "{query}");
        let body = response.json();
        assert_eq!(body["status"], "error");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(parameter), "{query}: {message}");
        assert!(message.len() < 200, "long input is not echoed whole: {message}");
    }
    exporter.stop().await;
}

/// `/` answers a browser with the page and anyone else with the JSON index: a cache in
/// between must keep them apart, so both carry `Vary: Accept` (and gzip adds its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_answers_at_the_root_vary_by_accept() {
    let exporter = start_exporter(&NO_CLUSTER).await;
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    // Request headers, the answer's content type, its Vary.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 4] = [
        (&[("accept", browser)], "text/html", "Accept"),
        (&[("accept", browser), ("accept-encoding", "gzip")], "text/html", "Accept, Accept-Encoding"),
        (&[("accept", "application/json")], "application/json", "Accept"),
        (&[], "application/json", "Accept"),
    ];
    for (headers, content_type, vary) in cases {
        let answer = exporter.request("GET", "/", headers).await;
        assert_eq!(answer.status, 200, "{headers:?}");
        let got = answer.header("content-type").unwrap_or_default();
        assert!(got.starts_with(content_type), "{headers:?}: {got}");
        assert_eq!(answer.header("vary"), Some(vary), "{headers:?}");
    }
    exporter.stop().await;
}
