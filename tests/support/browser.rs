//! A real browser for the page's tests: Debian's headless Chromium, driven through
//! `chromedriver` with the W3C WebDriver protocol (HTTP + JSON), spoken here directly
//! with the harness's HTTP client: no WebDriver crate. Its methods block (on a runtime
//! of its own), so a test using it is a plain `#[test]`.
//!
//! * [`Browser::start`] starts chromedriver as a child of the test (see `process.rs`:
//!   on the test's own thread) on a free loopback port, and opens a session whose
//!   Chromium runs headless with a fresh profile in a temp dir and logs the console
//!   and the network (`goog:loggingPrefs`).
//! * Every screenshot goes into that temp dir; if the test panics, a last one is taken
//!   and all of them (with chromedriver's output) are copied to
//!   `target/page-screenshots/<name>/`, so a failure can be looked at (with
//!   `KEEP_SCREENSHOTS=1` in the environment, after a success too).
//! * Dropping it deletes the session (which ends Chromium) and then kills chromedriver.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value as Json, json};
use tempfile::TempDir;
use tokio::runtime::Runtime;

use super::eventually::{Unmet, eventually, try_eventually};
use super::free_local_addr;
use super::http::{HttpResponse, Request};
use super::process::{self, ChildGuard};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Chromium's flags. Without the background-networking ones it tries to reach Google's
/// services, and this machine's closed network refuses those connections.
const CHROMIUM_FLAGS: [&str; 10] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
];

/// How long chromedriver may take to listen, and Chromium to open a session.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on any one WebDriver command (a navigation waits for the page's load).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How often [`Browser::wait_for`] asks again.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Both programs, or a panic that says what to install.
fn require_browser() {
    for (program, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(program).is_file(),
            "{program} is missing: the page's browser tests drive Debian's headless Chromium. Install the \
             packages `chromium` and `chromium-driver` with `scripts/install-deps.sh chromium` (or \
             `apt-get install chromium chromium-driver`); the package `{package}` provides {program}."
        );
    }
}

/// A headless Chromium session, ended on drop.
pub struct Browser {
    name: String,
    driver_addr: SocketAddr,
    session: String,
    /// Runs the HTTP client for the blocking methods.
    runtime: Runtime,
    /// Declared before `dir` so that it is dropped (killed) first.
    driver: ChildGuard,
    dir: TempDir,
}

impl Browser {
    /// Starts chromedriver and a Chromium session with a `width` × `height` window.
    /// `name` names the folder failure screenshots are kept in.
    pub fn start(name: &str, width: u32, height: u32) -> Browser {
        require_browser();
        let dir = tempfile::Builder::new().prefix("browser-").tempdir().expect("create a temp dir");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let (driver, driver_addr) = start_driver(&runtime, dir.path());
        let profile = dir.path().join("profile");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--window-size={width},{height}"));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "goog:loggingPrefs": {"browser": "ALL", "performance": "ALL"},
        }}});
        let mut browser = Browser { name: name.to_string(), driver_addr, session: String::new(), runtime, driver, dir };
        let created = browser.send("POST", "/session", Some(capabilities));
        browser.session = created["sessionId"].as_str().expect("a session id").to_string();
        browser
    }

    /// Navigates to `url`, waits for the page's load event, and keeps every resource
    /// timing entry from then on.
    pub fn open(&self, url: &str) {
        self.command("POST", "/url", Some(json!({ "url": url })));
        // The Performance API keeps 250 resource entries by default; the page makes
        // five a refresh, and tests that count its requests need every one.
        self.run("performance.setResourceTimingBufferSize(100000); return true");
    }

    /// Runs `script` (a function body: it `return`s its answer) in the page.
    pub fn run(&self, script: &str) -> Json {
        self.command("POST", "/execute/sync", Some(json!({ "script": script, "args": [] })))
    }

    /// Runs `script` until it returns something truthy, and returns that; panics with
    /// `what` and the last answer after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, script: &str) -> Json {
        eventually(what, timeout, POLL_INTERVAL, || {
            let answer = self.run(script);
            let truthy = !matches!(&answer, Json::Null | Json::Bool(false)) && answer != json!("");
            if truthy { Ok(answer) } else { Err(format!("the page said {answer}")) }
        })
    }

    /// Clicks the element `css` selects, as a person would (scrolled into view, on top).
    pub fn click(&self, css: &str) {
        let found = self.command("POST", "/element", Some(json!({"using": "css selector", "value": css})));
        let id = found.as_object().and_then(|o| o.values().next()).and_then(Json::as_str).expect("an element id");
        self.command("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// Resizes the window (the viewport follows).
    pub fn resize(&self, width: u32, height: u32) {
        self.command("POST", "/window/rect", Some(json!({ "width": width, "height": height })));
    }

    /// Runs a Chrome DevTools Protocol command, e.g. `Emulation.setEmulatedMedia` to
    /// stand in for a system setting.
    pub fn devtools(&self, command: &str, params: Json) -> Json {
        self.command("POST", "/goog/cdp/execute", Some(json!({ "cmd": command, "params": params })))
    }

    /// Saves what the window shows as `<name>.png` in the browser's temp dir.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let encoded = self.command("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("base64 text"))
            .expect("a base64 screenshot");
        let path = self.dir.path().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// The log entries of `kind` ("browser": the console; "performance": DevTools
    /// events) since the last call.
    pub fn log(&self, kind: &str) -> Vec<Json> {
        match self.command("POST", "/se/log", Some(json!({ "type": kind }))) {
            Json::Array(entries) => entries,
            other => panic!("log {kind}: {other}"),
        }
    }

    /// The URL of every request sent since the last call by documents whose address
    /// starts with `origin` (from the performance log; Chromium's own pages, such as
    /// the first tab's, are left out).
    pub fn requests_from(&self, origin: &str) -> Vec<String> {
        self.log("performance")
            .iter()
            .filter_map(|entry| serde_json::from_str::<Json>(entry["message"].as_str()?).ok())
            .map(|event| event["message"].clone())
            .filter(|message| message["method"] == "Network.requestWillBeSent")
            .filter(|message| message["params"]["documentURL"].as_str().is_some_and(|d| d.starts_with(origin)))
            .filter_map(|message| message["params"]["request"]["url"].as_str().map(str::to_string))
            .collect()
    }

    /// Panics if the console logged an error (level SEVERE) since the last call, except
    /// failed loads of API paths answered with one of `expected_statuses` (a browser
    /// logs every HTTP error answer).
    pub fn assert_clean_console(&self, expected_statuses: &[u16]) {
        let log = self.log("browser");
        let unexpected: Vec<&Json> = log
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .filter(|e| {
                let message = e["message"].as_str().unwrap_or_default();
                let expected = e["source"] == "network"
                    && message.contains("/api/cluster/")
                    && expected_statuses.iter().any(|s| message.contains(&format!("status of {s} ")));
                !expected
            })
            .collect();
        assert!(unexpected.is_empty(), "console errors: {unexpected:#?}");
    }

    /// Panics unless every request the page sent since the last call went to the
    /// exporter at `addr` (and there was one at least); returns their paths.
    pub fn assert_own_origin_only(&self, addr: SocketAddr) -> Vec<String> {
        let origin = format!("http://{addr}/");
        let urls = self.requests_from(&origin);
        assert!(!urls.is_empty(), "the performance log shows the page's requests");
        let foreign: Vec<&String> = urls.iter().filter(|u| !u.starts_with(&origin)).collect();
        assert!(foreign.is_empty(), "requests to other origins: {foreign:?}");
        urls.iter().map(|u| u[origin.len() - 1..].to_string()).collect()
    }

    fn command(&self, method: &str, path: &str, body: Option<Json>) -> Json {
        self.send(method, &format!("/session/{}{path}", self.session), body)
    }

    /// One WebDriver request; the answer's `value`, or a panic with WebDriver's error.
    fn send(&self, method: &str, path: &str, body: Option<Json>) -> Json {
        let answer = http(&self.runtime, self.driver_addr, method, path, body)
            .unwrap_or_else(|e| panic!("chromedriver: {e}\n{}", self.driver.output_tail(20)));
        let parsed: Json = serde_json::from_slice(&answer.body)
            .unwrap_or_else(|e| panic!("chromedriver {method} {path}: not JSON ({e}), status {}", answer.status));
        let value = parsed["value"].clone();
        assert!(answer.status == 200, "chromedriver {method} {path}: {} {}", answer.status, value);
        value
    }

    /// Copies the screenshots and chromedriver's output to `target/page-screenshots/`.
    fn keep(&self) -> PathBuf {
        let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).with_file_name("page-screenshots").join(&self.name);
        let _ = std::fs::create_dir_all(&kept);
        for entry in std::fs::read_dir(self.dir.path()).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_file() {
                let _ = std::fs::copy(&path, kept.join(entry.file_name()));
            }
        }
        kept
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if thread::panicking() && !self.session.is_empty() {
            // No second panic while unwinding: a dead browser just leaves no picture.
            let last = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.screenshot("failure")));
            let last = if last.is_ok() { "with failure.png" } else { "no final one" };
            eprintln!("screenshots kept in {} ({last})", self.keep().display());
        } else if std::env::var_os("KEEP_SCREENSHOTS").is_some() {
            eprintln!("screenshots kept in {}", self.keep().display());
        }
        if !self.session.is_empty() {
            let _ = http(&self.runtime, self.driver_addr, "DELETE", &format!("/session/{}", self.session), None);
        }
    }
}

/// One request to chromedriver, with a JSON body if given.
fn http(
    runtime: &Runtime,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<Json>,
) -> Result<HttpResponse, String> {
    let mut request = Request::new(method, path).timeout(COMMAND_TIMEOUT);
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    runtime.block_on(request.try_send(addr))
}

/// chromedriver on a free loopback port, once it says it is ready.
fn start_driver(runtime: &Runtime, dir: &Path) -> (ChildGuard, SocketAddr) {
    let mut failures = Vec::new();
    for attempt in 0..3 {
        let addr = free_local_addr();
        let args = [format!("--port={}", addr.port())];
        let label = format!("chromedriver-{attempt}");
        let mut driver = process::spawn(Path::new(CHROMEDRIVER), &args, dir, &label).expect("spawn chromedriver");
        let ready = try_eventually("chromedriver is ready", START_TIMEOUT, Duration::from_millis(50), || {
            if let Some(status) = driver.exit_status() {
                return Err(Unmet::Never(format!("exited with {status}")));
            }
            let status = http(runtime, addr, "GET", "/status", None)
                .ok()
                .and_then(|a| serde_json::from_slice::<Json>(&a.body).ok());
            match status {
                Some(s) if s["value"]["ready"] == true => Ok(()),
                other => Err(Unmet::NotYet(format!("status {other:?}"))),
            }
        });
        match ready {
            Ok(()) => return (driver, addr),
            Err(error) => failures.push(format!("{error}\n{}", driver.output_tail(10))),
        }
    }
    panic!("chromedriver did not start:\n{}", failures.join("\n"));
}

/// The start of every map check the page tests run: `map`, `side` (a cell's width in
/// pixels), `rgb` (the colours a canvas drew in a rectangle) and `cell` (the 2x2 pixels
/// at a slot's cell centre, clear of the lines between owners). A macro, so a test's
/// own functions follow it in one `concat!` constant.
#[macro_export]
macro_rules! map_pixels_js {
    () => {
        r#"
const map = document.getElementById('map');
const side = map.width / 128;
const rgb = (canvas, x, y, w = 1, h = 1) => {
  const d = canvas.getContext('2d').getImageData(x, y, w, h).data;
  const out = [];
  for (let i = 0; i < d.length; i += 4) out.push(`${d[i]},${d[i + 1]},${d[i + 2]}`);
  return out;
};
const cell = (slot) => {
  const x = Math.floor((slot % 128 + 0.5) * side) - 1, y = Math.floor((Math.floor(slot / 128) + 0.5) * side) - 1;
  return [...new Set(rgb(map, x, y, 2, 2))];
};
"#
    };
}
