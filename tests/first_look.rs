//! The first look (issue 18), as a new user meets it: the real binary with the default
//! cache TTL (30 s), a real Valkey 8 cluster with traffic on one slot. Rates come within
//! 5 s of the first question to a freshly started exporter, to one that sat unobserved
//! for a TTL, and (with a shorter TTL, to keep the test short) to one unobserved for
//! longer than two TTLs; the page says that rates are coming, shows keys meanwhile,
//! then the map by CPU. And what that must not cost: an unobserved exporter asks the
//! cluster nothing, and a plain 15 s scrape loop causes one refresh per TTL, no more
//! (`INFO commandstats`).

mod monitoring_support;
mod support;

use monitoring_support::traffic::{HotSlot, Load, Traffic};
use serde_json::Value as Json;
use std::thread::sleep;
use std::time::{Duration, Instant};
use support::browser::Browser;
use support::{ExporterBinary, ValkeyCluster, http};
use tokio::runtime::Runtime;

/// The slot the traffic makes hot.
const HOT: u16 = 1000;
/// The exporter's default `--cache-ttl`: the tests start it without the flag.
const TTL: Duration = Duration::from_secs(30);
/// The promise of issue 18: rates within this long of the first question.
const WITHIN: Duration = Duration::from_secs(5);
/// How long a question is asked again before giving up: past a TTL, so that an
/// exporter without the first window fails with its time to the first rate measured.
const GIVE_UP: Duration = Duration::from_secs(40);

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

/// Reads on every slot, and far more on [`HOT`].
fn traffic(cluster: &ValkeyCluster) -> Traffic {
    Traffic::start(cluster, &Load { background: 30, hot: vec![HotSlot { slot: HOT, gets: 100, value_bytes: 16 }] })
}

/// The `data` of a 200 answer to `path`.
fn data(runtime: &Runtime, exporter: &ExporterBinary, path: &str) -> Json {
    let answer = runtime.block_on(http::request(exporter.addr, "GET", path, &[]));
    assert_eq!(answer.status, 200, "{path}: {}", answer.text());
    answer.json()["data"].clone()
}

/// Asks for the hottest slots by CPU until the hot slot has a current rate, and returns
/// how long that took from the first question, the answer with the rate, and the ones
/// before it. Asks again when an answer says rates are ready (as the page does), or
/// else once a second (as the user of issue 18 did).
fn first_rate(runtime: &Runtime, exporter: &ExporterBinary) -> (Duration, Json, Vec<Json>) {
    let asked = Instant::now();
    let mut waiting = Vec::new();
    loop {
        let answer = data(runtime, exporter, "/api/cluster/hot-slots?by=cpu&limit=5");
        let slots = answer["slots"].as_array().expect("slots");
        let hot = slots.iter().find(|e| e["slot_id"] == HOT).and_then(|e| e["cpu_usec_per_sec"].as_f64());
        if hot.is_some_and(|rate| rate > 0.0) && answer["rates_ready_in_seconds"].is_null() {
            return (asked.elapsed(), answer, waiting);
        }
        assert!(asked.elapsed() < GIVE_UP, "no rate for slot {HOT} within {GIVE_UP:?}: {waiting:?}");
        let wait = answer["rates_ready_in_seconds"]
            .as_f64()
            .map_or(Duration::from_secs(1), |s| Duration::from_secs_f64(s) + Duration::from_millis(100));
        waiting.push(answer);
        sleep(wait);
    }
}

fn seconds(value: &Json) -> f64 {
    value.as_f64().unwrap_or_else(|| panic!("not a number of seconds: {value}"))
}

/// An answer without rates yet: it says so and when they come, at most a first window away.
fn assert_says_when(answer: &Json) {
    assert!(answer["window_seconds"].is_null(), "{answer}");
    assert!(answer["note"].as_str().is_some_and(|n| n.contains("rates_ready_in_seconds")), "{answer}");
    let ready = seconds(&answer["rates_ready_in_seconds"]);
    assert!(ready > 0.0 && ready <= 2.0, "{answer}");
}

#[test]
fn rates_come_within_5_s_of_the_first_question_fresh_after_idling_and_on_the_page() {
    let cluster = ValkeyCluster::start(3, 0);
    let _traffic = traffic(&cluster);
    let runtime = runtime();
    let seed = cluster.seed_url();
    let exporter = ExporterBinary::start(&["--nodes", &seed]);
    // As in the issue: the first question 2 s after start.
    sleep(Duration::from_secs(2));
    let (took, fresh, waiting) = first_rate(&runtime, &exporter);
    eprintln!(
        "fresh exporter: the hot slot's rate {took:?} after the first question ({} answers before)",
        waiting.len()
    );
    assert!(took < WITHIN, "{took:?}: {waiting:?}");
    assert_eq!(waiting.len(), 1, "one answer without rates, then rates: {waiting:?}");
    assert_says_when(&waiting[0]);
    assert!(waiting[0]["slots"].as_array().is_some_and(Vec::is_empty), "{}", waiting[0]);
    let window = seconds(&fresh["window_seconds"]);
    assert!((1.5..5.0).contains(&window), "a first window of about 2 s: {fresh}");
    let unobserved_since = Instant::now();

    // While that exporter sits unobserved: the page on another fresh one, and an
    // exporter left alone for longer than two TTLs.
    the_page_says_rates_are_coming_then_draws_them(&seed);
    after_a_long_idle_current_rates_follow_the_long_window(&runtime, &seed);

    sleep((unobserved_since + TTL + Duration::from_secs(1)).saturating_duration_since(Instant::now()));
    let (took, idle, waiting) = first_rate(&runtime, &exporter);
    eprintln!("after {:?} unobserved: the rate {took:?} after the question", unobserved_since.elapsed());
    assert!(took < WITHIN, "{took:?}: {waiting:?}");
    // No refresh while nobody asked: the window spans the whole time unobserved.
    let window = seconds(&idle["window_seconds"]);
    assert!(window >= TTL.as_secs_f64(), "{idle}");
}

/// A fresh exporter's page: "CPU rates in ~N s" over a map of keys (not a map of "no
/// data"), then the hot slot first in the table and the map by CPU, within 5 s.
fn the_page_says_rates_are_coming_then_draws_them(seed: &str) {
    let exporter = ExporterBinary::start(&["--nodes", seed]);
    let browser = Browser::start("first_look", 1280, 800);
    let opened = Instant::now();
    browser.open(&format!("http://{}/ui", exporter.addr));
    let cell = "const map = document.getElementById('map');
        const side = map.width / 128;
        const at = (canvas, x, y) => [...canvas.getContext('2d').getImageData(x, y, 1, 1).data].slice(0, 3).join();
        const cell = (slot) => at(map, Math.floor((slot % 128 + 0.5) * side), Math.floor((Math.floor(slot / 128) + 0.5) * side));
        const legend = document.getElementById('legend-nodata');
        const nodata = [0, 1, 2, 3, 4, 5].map((i) => at(legend, i, i));";
    let coming = browser.wait_for(
        "the page saying rates are coming",
        WITHIN,
        &format!(
            "{cell}
            const note = document.getElementById('map-note').textContent;
            return map.dataset.rates === 'coming' && {{ note, by: map.dataset.by, cells: [0, {HOT}, 16383].map(cell), nodata }};"
        ),
    );
    browser.screenshot("1-rates-coming");
    let note = coming["note"].as_str().expect("a note");
    assert!(note.starts_with("CPU rates in ~") && note.contains("Showing keys"), "{coming}");
    assert_eq!(coming["by"], "cpu", "{coming}");
    let nodata: Vec<&Json> = coming["nodata"].as_array().expect("colours").iter().collect();
    for colour in coming["cells"].as_array().expect("colours") {
        assert!(!nodata.contains(&colour), "keys drawn, not the no-data hatch: {coming}");
    }
    let rates = browser.wait_for(
        "the hot slot first in the table and the map by CPU",
        WITHIN,
        &format!(
            "const map = document.getElementById('map');
            const first = document.querySelector('#hot tbody tr');
            return map.dataset.rates === 'yes' && first && Number(first.dataset.slot) === {HOT} &&
              {{ note: document.getElementById('map-note').textContent }};"
        ),
    );
    let took = opened.elapsed();
    browser.screenshot("2-rates");
    eprintln!("page: rates drawn {took:?} after it was opened");
    assert!(took < WITHIN, "{took:?}");
    assert!(rates["note"].as_str().is_some_and(|n| n.starts_with("Rates over the last")), "{rates}");
}

/// With a 5 s TTL, left alone for 11 s: the first question refreshes and gets rates over
/// the whole 11 s, told that current ones follow; they do, over a first window.
fn after_a_long_idle_current_rates_follow_the_long_window(runtime: &Runtime, seed: &str) {
    let exporter = ExporterBinary::start(&["--nodes", seed, "--cache-ttl", "5s"]);
    first_rate(runtime, &exporter);
    sleep(Duration::from_secs(11));
    let (took, current, waiting) = first_rate(runtime, &exporter);
    eprintln!("after 11 s unobserved (TTL 5 s): current rates {took:?} after the question");
    assert!(took < WITHIN, "{took:?}: {waiting:?}");
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let old = &waiting[0];
    assert!(seconds(&old["window_seconds"]) >= 11.0, "the long window is served meanwhile: {old}");
    let ready = seconds(&old["rates_ready_in_seconds"]);
    assert!(ready > 0.0 && ready <= 2.0, "{old}");
    assert!(seconds(&current["window_seconds"]) < 5.0, "a first window: {current}");
}

/// `valkey_exporter_last_refresh_timestamp_seconds` of a scrape, as Prometheus asks.
fn scrape(runtime: &Runtime, exporter: &ExporterBinary) -> f64 {
    let headers = [("X-Prometheus-Scrape-Timeout-Seconds", "10")];
    let answer = runtime.block_on(http::request(exporter.addr, "GET", "/metrics", &headers));
    assert_eq!(answer.status, 200, "{}", answer.text());
    let line = answer.text().lines().find(|l| l.starts_with("valkey_exporter_last_refresh_timestamp_seconds "));
    let value = line.and_then(|l| l.split(' ').nth(1)).and_then(|v| v.parse().ok());
    value.unwrap_or_else(|| panic!("no refresh timestamp in:\n{}", answer.text()))
}

#[test]
fn an_unobserved_exporter_asks_nothing_and_a_15_s_scrape_loop_costs_one_refresh_per_ttl() {
    let cluster = ValkeyCluster::start(3, 0);
    let _traffic = traffic(&cluster);
    let runtime = runtime();
    let untouched = cluster.slot_stats_calls();
    let exporter = ExporterBinary::start(&["--nodes", &cluster.seed_url()]);
    sleep(Duration::from_secs(2));
    assert_eq!(cluster.slot_stats_calls(), untouched, "nobody asked: no refresh");

    let started = Instant::now();
    let first = scrape(&runtime, &exporter);
    let per_refresh = cluster.slot_stats_calls() - untouched;
    assert!(per_refresh >= 3, "at least one SLOT-STATS per primary");
    // Prometheus every 15 s; the third scrape just past the first snapshot's TTL.
    sleep((started + Duration::from_secs(15)).saturating_duration_since(Instant::now()));
    assert_eq!(scrape(&runtime, &exporter), first, "served from the cache");
    sleep((started + TTL + Duration::from_millis(500)).saturating_duration_since(Instant::now()));
    let third = scrape(&runtime, &exporter);
    assert!(third > first, "a new snapshot after the TTL");
    let refreshes = (cluster.slot_stats_calls() - untouched) as f64 / per_refresh as f64;
    assert_eq!(refreshes, 2.0, "one refresh per TTL, no first window for scrapes");

    // A question on a scraped exporter: rates at once, over the scrapes' window, for nothing.
    let answer = data(&runtime, &exporter, "/api/cluster/hot-slots?by=cpu&limit=5");
    assert_eq!(answer["slots"][0]["slot_id"], HOT, "{answer}");
    assert!(answer["rates_ready_in_seconds"].is_null() && seconds(&answer["window_seconds"]) >= 30.0, "{answer}");
    assert_eq!(cluster.slot_stats_calls() - untouched, 2 * per_refresh, "the question cost no refresh");
}
