//! Basic auth under a flood of wrong passwords from one address, against the real
//! binary: the flood cannot make a scraper at another address wait for its guesses.
//!
//! bcrypt runs one at a time. Before each address was held to one queued verification,
//! 128 clients sending distinct wrong passwords from 127.0.0.1 kept 128 runs queued,
//! and a correct credential not yet cached, from another address, got its 200 after
//! 8.1 s (bcrypt cost 10). Now the flood's extra guesses get 429 at once, and the
//! credential waits for at most the one run 127.0.0.1 has queued.

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::ExporterBinary;
use tokio::net::TcpSocket;

const USER: &str = "prometheus";
const PASSWORD: &str = "scrape-pw-8Vc3";
/// What `htpasswd -nBC 10` gives: the cost the 8.1 s were measured with.
const COST: u32 = 10;
const FLOOD_CLIENTS: usize = 128;
const FLOOD_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const SCRAPER_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// The issue asks for 2 s; twice that leaves room for a loaded test machine and is
/// still half of what the flood cost before.
const COLD_CREDENTIAL_LIMIT: Duration = Duration::from_secs(4);

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// One keep-alive HTTP/1.1 connection to `server` from a chosen local address.
struct Client {
    server: SocketAddr,
    sender: SendRequest<Empty<Bytes>>,
}

/// What came back: status, `Retry-After`, and the JSON error code if any.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    code: Option<String>,
}

impl Client {
    async fn connect(server: SocketAddr, from: IpAddr) -> Client {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::new(from, 0)).unwrap_or_else(|e| panic!("bind {from}: {e}"));
        let stream = socket.connect(server).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(connection);
        Client { server, sender }
    }

    async fn get(&mut self, authorization: &str) -> Answer {
        self.sender.ready().await.expect("the connection stays open");
        let request = hyper::Request::get("/healthz")
            .header("host", self.server.to_string())
            .header("authorization", authorization)
            .body(Empty::<Bytes>::new())
            .expect("request");
        let response = self.sender.send_request(request).await.expect("an answer");
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().expect("ASCII").to_owned());
        let body = response.into_body().collect().await.expect("body").to_bytes();
        let code = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|json| json["error"]["code"].as_str().map(str::to_owned));
        Answer { status, retry_after, code }
    }
}

/// Distinct wrong passwords from [`FLOOD_ADDRESS`] on `clients` connections until
/// `stop`; every distinct kind of answer with how often it came.
async fn flood(server: SocketAddr, clients: usize, stop: Arc<AtomicBool>) -> BTreeMap<Answer, usize> {
    let answers = Arc::new(Mutex::new(BTreeMap::new()));
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (stop, answers) = (stop.clone(), answers.clone());
        tasks.push(tokio::spawn(async move {
            let mut connection = Client::connect(server, FLOOD_ADDRESS).await;
            let mut sent = 0;
            while !stop.load(Ordering::Relaxed) {
                let answer = connection.get(&basic(USER, &format!("guess-{client}-{sent}"))).await;
                *answers.lock().unwrap().entry(answer).or_insert(0) += 1;
                sent += 1;
            }
        }));
    }
    for task in tasks {
        task.await.expect("a flood client panicked");
    }
    Arc::try_unwrap(answers).expect("every client is done").into_inner().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_flood_from_one_address_gets_429s_and_a_scraper_elsewhere_is_verified_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let web_config = dir.path().join("web.yml");
    let hash = bcrypt::hash(PASSWORD, COST).unwrap();
    std::fs::write(&web_config, format!("basic_auth_users:\n  {USER}: '{hash}'\n")).unwrap();
    // No Valkey: /healthz answers without one, so the time measured is the credential's.
    let seed = format!("redis://{}", support::free_local_addr());
    let flags = ["--nodes", &seed, "--node-timeout", "1s", "--web-config-file", web_config.to_str().unwrap()];
    let exporter = ExporterBinary::start(&flags);

    let stop = Arc::new(AtomicBool::new(false));
    let flooding = tokio::spawn(flood(exporter.addr, FLOOD_CLIENTS, stop.clone()));
    // Long enough for every flooding client to be connected and guessing.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut scraper = Client::connect(exporter.addr, SCRAPER_ADDRESS).await;
    let sent = Instant::now();
    let cold = scraper.get(&basic(USER, PASSWORD)).await;
    let waited = sent.elapsed();
    // Verified now, so the flooded address itself gets it from the cache.
    let mut same_address = Client::connect(exporter.addr, FLOOD_ADDRESS).await;
    let cached = same_address.get(&basic(USER, PASSWORD)).await;

    stop.store(true, Ordering::Relaxed);
    let answers = flooding.await.expect("flood");
    assert_eq!(cold.status, 200, "{cold:?}");
    assert!(waited < COLD_CREDENTIAL_LIMIT, "the cold credential took {waited:?} during the flood");
    assert_eq!(cached.status, 200, "a cached credential from the flooded address: {cached:?}");

    let unauthorized = Answer { status: 401, retry_after: None, code: Some("unauthorized".into()) };
    let busy = Answer { status: 429, retry_after: Some("1".into()), code: Some("too_many_auth_attempts".into()) };
    let unexpected: Vec<_> = answers.keys().filter(|a| **a != unauthorized && **a != busy).collect();
    assert!(unexpected.is_empty(), "unexpected answers to the flood: {answers:?}");
    let (refused, turned_away) = (answers.get(&unauthorized).copied(), answers.get(&busy).copied());
    assert!(refused.is_some_and(|n| n > 0), "no guess was verified: {answers:?}");
    assert!(turned_away.is_some_and(|n| n > refused.unwrap_or(0)), "most guesses get 429: {answers:?}");
    eprintln!("cold credential: {waited:?} during a flood answered {answers:?}");
}
