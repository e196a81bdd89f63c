//! The exporter's own page (issue 11), in a real browser: headless Chromium through
//! chromedriver, against the real binary and real Valkey clusters with one hot slot.
//! What is checked is what a person would see: the colours actually drawn on the map's
//! canvas, the rows of the tables, the tooltip's three measures, a killed primary's
//! slots turning to "no data" without a reload, the choice of clusters an exporter with
//! several offers; and what they would not want: console errors, requests to any other
//! origin, more than one slot-map request per refresh. The `by=all` slot map the page
//! reads is checked against the three single-measure maps. One screenshot
//! per phase goes to the browser's temp dir (and to `target/page-screenshots/` when a
//! test fails).

mod support;

use serde_json::Value as Json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;
use support::browser::Browser;
use support::{Conn, ExporterBinary, ValkeyCluster, expected_keys, fill, gets};
use tokio::runtime::Runtime;

/// The slot the traffic hammers, a slot with a twentieth of it, and one left alone: all
/// on the primary owning slots 0..5460.
const HOT: u16 = 1000;
const WARM: u16 = 1003;
const COLD: u16 = 1001;
/// A slot of another primary, the one that gets killed.
const VICTIM_PROBE: u16 = 16000;
const WAIT: Duration = Duration::from_secs(30);

/// Functions the checks run in the page: a cell's colour as drawn, the legend's ends.
const PIXELS: &str = concat!(
    map_pixels_js!(),
    r#"
const ramp = document.getElementById('legend-ramp');
const hottest = rgb(ramp, ramp.width - 1, 0)[0];
const zero = rgb(document.getElementById('legend-zero'), 5, 5)[0];
const nodataCanvas = document.getElementById('legend-nodata');
const nodata = [...new Set(rgb(nodataCanvas, 0, 0, nodataCanvas.width, nodataCanvas.height))];
"#
);

/// GETs to `slot` on `addr`, `per_round` per round, until `stop`; errors (the cluster
/// going down after the kill) are ignored.
fn traffic(addr: String, rounds: Vec<(u16, usize)>, stop: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let commands: Vec<Vec<String>> = rounds.iter().flat_map(|&(slot, n)| gets(slot, n)).collect();
        while !stop.load(Ordering::Relaxed) {
            if let Ok(mut conn) = Conn::connect(&addr) {
                let _ = conn.pipeline(&commands);
            }
            thread::sleep(Duration::from_millis(20));
        }
    })
}

/// A list of colours ("r,g,b") the page returned.
fn set(value: &Json) -> Vec<String> {
    value.as_array().unwrap_or_else(|| panic!("not a list: {value}")).iter().map(text).collect()
}

fn text(value: &Json) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_string)
}

#[test]
fn the_page_shows_the_hot_slot_the_balance_and_a_dead_primary_without_reloading() {
    let mut cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    let owners = cluster.slot_owners();
    let (hot_node, victim) = (owners[usize::from(HOT)].clone(), owners[usize::from(VICTIM_PROBE)].clone());
    assert!(hot_node == owners[usize::from(WARM)] && hot_node == owners[usize::from(COLD)] && hot_node != victim);
    let seeds: Vec<String> = cluster.primaries().iter().map(|p| format!("redis://{p}")).collect();
    let exporter = ExporterBinary::start(&["--nodes", &seeds.join(","), "--cache-ttl", "1s", "--node-timeout", "1s"]);
    let stop = Arc::new(AtomicBool::new(false));
    let load = traffic(hot_node.clone(), vec![(HOT, 2000), (WARM, 100)], stop.clone());

    let browser = Browser::start("page_with_a_hot_slot", 1280, 800);
    // `/` itself: a browser asks for HTML first and gets the page.
    browser.open(&format!("http://{}/", exporter.addr));
    let cpu = browser.wait_for(
        "the hot slot drawn in the hottest colour, first in the table",
        WAIT,
        &format!(
            "{PIXELS}
            const first = document.querySelector('#hot tbody tr');
            const seen = {{ by: map.dataset.by, rates: map.dataset.rates, hot: cell({HOT}), warm: cell({WARM}),
              cold: cell({COLD}), victim: cell({VICTIM_PROBE}), hottest, zero, nodata,
              first: first && Number(first.dataset.slot) }};
            return seen.by === 'cpu' && seen.hot.length === 1 && seen.hot[0] === hottest && seen.first === {HOT} && seen;"
        ),
    );
    browser.screenshot("1-cpu");
    let (hottest, zero) = (text(&cpu["hottest"]), text(&cpu["zero"]));
    assert_eq!(cpu["rates"], "yes", "{cpu}");
    assert!(!set(&cpu["warm"]).contains(&hottest), "the warm slot is not as hot: {cpu}");
    assert_eq!(set(&cpu["cold"]), vec![zero.clone()], "a slot without traffic has the colour of 0: {cpu}");
    assert_eq!(set(&cpu["victim"]), vec![zero.clone()], "the victim's slots have data (0) before: {cpu}");
    assert!(!set(&cpu["nodata"]).contains(&zero), "0 and no data look different: {cpu}");
    assert_one_map_request_per_refresh(&browser);
    assert_tooltip_shows_every_measure(&browser, &hot_node);

    let primaries = browser.run("return [...document.querySelectorAll('#balance tbody tr')].map(r => r.dataset.node)");
    let mut listed = set(&primaries);
    listed.sort();
    assert_eq!(listed, cluster.primaries(), "the balance lists every primary");

    // Killed while the page stays open: a marker set now would be gone after a reload.
    browser.run("window.stillTheSamePage = true; return true");
    cluster.kill(&victim);
    let victim_slots: Vec<u16> = (0..16384u16).filter(|&s| owners[usize::from(s)] == victim).collect();
    let probes = [victim_slots[0], victim_slots[victim_slots.len() / 2], *victim_slots.last().unwrap()];
    let dead = browser.wait_for(
        "the killed primary's slots drawn as no data and its row as down",
        WAIT,
        &format!(
            "{PIXELS}
            const row = document.querySelector('#nodes tr[data-node=\"{victim}\"]');
            const probes = {probes:?}.map(cell);
            const missing = probes.every(colours => colours.every(c => nodata.includes(c)));
            return missing && row && row.dataset.up === 'false' &&
              {{ row: row.textContent, marker: window.stillTheSamePage === true, alive: cell({COLD}), zero, nodata }};"
        ),
    );
    browser.screenshot("2-primary-killed");
    assert_eq!(dead["marker"], true, "no reload happened");
    assert!(dead["row"].as_str().unwrap().contains("down"), "{dead}");
    assert!(!set(&dead["nodata"]).contains(&set(&dead["alive"])[0]), "a live primary's slot still has data: {dead}");

    // The switch, clicked: keys keep the live primaries' slots coloured, the dead one's not.
    browser.click("label[for=by-keys]");
    let keys = browser.wait_for(
        "the map by keys",
        WAIT,
        &format!(
            "{PIXELS}
            return map.dataset.by === 'keys' && {{ live: cell({HOT}), dead: cell({}), nodata, zero }};",
            probes[1]
        ),
    );
    browser.screenshot("3-keys");
    assert!(set(&keys["dead"]).iter().all(|c| set(&keys["nodata"]).contains(c)), "{keys}");
    assert!(!set(&keys["nodata"]).contains(&set(&keys["live"])[0]), "{keys}");

    // The system turning dark: the page follows, map included, without a reload.
    let features = serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]});
    browser.devtools("Emulation.setEmulatedMedia", features);
    let dark = browser.wait_for(
        "the dark theme",
        WAIT,
        &format!(
            "{PIXELS}
            return hottest !== '{hottest}' && {{ hottest, dead: cell({}), nodata, light: '{hottest}',
              background: getComputedStyle(document.body).backgroundColor }};",
            probes[1]
        ),
    );
    browser.screenshot("4-dark");
    assert!(dark["background"].as_str().unwrap().starts_with("rgb(13, 17, 23"), "{dark}");
    assert!(set(&dark["dead"]).iter().all(|c| set(&dark["nodata"]).contains(c)), "{dark}");

    // Phone width: the map scales down, nothing overflows sideways.
    browser.resize(390, 844);
    let phone = browser.wait_for(
        "the page at phone width",
        WAIT,
        "const map = document.getElementById('map');
         return innerWidth <= 400 && { page: document.documentElement.scrollWidth, view: innerWidth,
           map: map.getBoundingClientRect().width };",
    );
    browser.screenshot("5-phone");
    assert!(phone["page"].as_f64() <= phone["view"].as_f64(), "no sideways scrolling: {phone}");
    assert!(phone["map"].as_f64().unwrap() > 300.0, "the map fills the width: {phone}");

    browser.assert_clean_console(&[]);
    let paths = browser.assert_own_origin_only(exporter.addr);
    for needed in
        ["/ui/app.js", "/ui/map.js", "/api/cluster/slot-map?by=all", "/api/cluster/nodes", "/api/cluster/migrations"]
    {
        assert!(paths.iter().any(|p| p.starts_with(needed)), "{needed} among {paths:?}");
    }
    stop.store(true, Ordering::Relaxed);
    load.join().expect("the traffic thread");
}

/// Each refresh asks for the slot map once, in all three measures: the count of
/// slot-map requests (from the Performance API) equals the count of refreshes (the page
/// counts them in `data-refreshes`), once no request is in flight. A page asking three
/// times a refresh never gets there.
fn assert_one_map_request_per_refresh(browser: &Browser) {
    let seen = browser.wait_for(
        "as many slot-map requests as refreshes, three refreshes or more",
        WAIT,
        "const maps = performance.getEntriesByType('resource').map(e => new URL(e.name))
           .filter(u => u.pathname === '/api/cluster/slot-map').map(u => u.search);
         const refreshes = Number(document.body.dataset.refreshes || 0);
         return refreshes >= 3 && maps.length === refreshes && { refreshes, maps };",
    );
    let maps = set(&seen["maps"]);
    assert!(maps.iter().all(|m| m == "?by=all"), "only by=all, the one answer with every measure: {seen}");
}

/// Pointing at the hot slot shows its owner and all three measures: keys as written,
/// CPU and network as rates above zero.
fn assert_tooltip_shows_every_measure(browser: &Browser, hot_node: &str) {
    let tip = browser.wait_for(
        "the tooltip of the hot slot",
        WAIT,
        &format!(
            "const map = document.getElementById('map');
            const box = map.getBoundingClientRect();
            const at = (i) => ({{ clientX: box.left + (i + 0.5) * box.width / 128, bubbles: true }});
            const point = {{ ...at({HOT} % 128), clientY: box.top + (Math.floor({HOT} / 128) + 0.5) * box.height / 128 }};
            map.dispatchEvent(new PointerEvent('pointermove', point));
            const tip = document.getElementById('tip');
            return !tip.hidden && [...tip.children].map(line => line.textContent);"
        ),
    );
    // The pointer leaves, as a person's would: a tooltip left open would stay where it
    // is when the window narrows later.
    let hidden = browser.run(
        "const map = document.getElementById('map');
         map.dispatchEvent(new PointerEvent('pointerleave'));
         return document.getElementById('tip').hidden;",
    );
    assert_eq!(hidden, true, "the tooltip hides when the pointer leaves");
    let lines = set(&tip);
    assert_eq!(lines.len(), 5, "slot, owner, keys, CPU, network: {lines:?}");
    assert!(lines[0].starts_with(&format!("slot {HOT} ")), "{lines:?}");
    assert_eq!(lines[1], format!("owner {hot_node} (up)"), "{lines:?}");
    assert_eq!(lines[2], format!("keys {}", expected_keys(HOT)), "{lines:?}");
    for (line, prefix, units) in
        [(&lines[3], "CPU ", ["µs/s", "ms/s", "s/s"]), (&lines[4], "network ", ["B/s", "kB/s", "MB/s"])]
    {
        let rate = line.strip_prefix(prefix).unwrap_or_else(|| panic!("{prefix}in {lines:?}"));
        let (number, unit) = rate.split_once(' ').unwrap_or_else(|| panic!("a number and a unit: {lines:?}"));
        let number: f64 = number.replace(',', "").parse().unwrap_or_else(|_| panic!("a number: {lines:?}"));
        assert!(number > 0.0 && units.contains(&unit), "a rate above 0 for the hot slot: {lines:?}");
    }
}

/// One slot-map answer's `data`, asked of `exporter` for `by`.
fn slot_map(runtime: &Runtime, exporter: &ExporterBinary, by: &str) -> Json {
    let path = format!("/api/cluster/slot-map?by={by}");
    let answer = runtime.block_on(support::http::request(exporter.addr, "GET", &path, &[]));
    assert_eq!(answer.status, 200, "{path}: {}", String::from_utf8_lossy(&answer.body));
    answer.json()["data"].clone()
}

/// `by=all`, the page's one request per refresh, is the three single-measure maps in one
/// answer: the same nodes, owners, window and note, each measure's values under its name,
/// and `slot_count`. Without a browser: this is the API's side of the page.
#[test]
fn the_slot_map_by_all_is_the_three_single_measure_maps_in_one() {
    let cluster = ValkeyCluster::start(3, 0);
    fill(&cluster, expected_keys);
    let owners = cluster.slot_owners();
    let seeds: Vec<String> = cluster.primaries().iter().map(|p| format!("redis://{p}")).collect();
    let exporter = ExporterBinary::start(&["--nodes", &seeds.join(","), "--cache-ttl", "1s", "--node-timeout", "1s"]);
    let stop = Arc::new(AtomicBool::new(false));
    let load = traffic(owners[usize::from(HOT)].clone(), vec![(HOT, 200)], stop.clone());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");

    // The four answers from one snapshot (the cache refreshes every second), and that
    // snapshot with rates (the second one on): poll until both hold.
    let measures = ["keys", "cpu", "network"];
    let mut last = Json::Null;
    let deadline = std::time::Instant::now() + WAIT;
    let (all, single) = loop {
        let all = slot_map(&runtime, &exporter, "all");
        let single: Vec<Json> = measures.iter().map(|by| slot_map(&runtime, &exporter, by)).collect();
        let one_snapshot = single.iter().all(|one| one["snapshot_timestamp"] == all["snapshot_timestamp"]);
        if one_snapshot {
            // The note is about rates: the same as CPU's and network's, never on keys.
            assert_eq!(all["note"], single[1]["note"], "{}", all["note"]);
            assert_eq!(all["note"], single[2]["note"], "{}", all["note"]);
            assert_eq!(single[0]["note"], Json::Null, "keys need no window");
            if all["note"].is_null() {
                break (all, single);
            }
        }
        assert!(std::time::Instant::now() < deadline, "no snapshot with rates within {WAIT:?}: {last}");
        last = all["snapshot_timestamp"].clone();
        thread::sleep(Duration::from_millis(200));
    };
    stop.store(true, Ordering::Relaxed);
    load.join().expect("the traffic thread");

    assert_eq!(all["by"], "all");
    assert_eq!(all["slot_count"], 16384);
    let values = all["values"].as_object().expect("values by measure");
    assert_eq!(values.len(), measures.len(), "{:?}", values.keys());
    for (by, one) in measures.iter().zip(&single) {
        assert_eq!(one["by"], *by);
        assert_eq!(all["values"][by], one["values"], "{by}: the same values");
        for field in ["nodes", "owners", "window_seconds"] {
            assert_eq!(all[field], one[field], "{by}: the same {field}");
        }
    }
    for slot in 0..16384u16 {
        let owner = &all["nodes"][all["owners"][usize::from(slot)].as_u64().expect("an owner") as usize]["node"];
        assert_eq!(owner, &owners[usize::from(slot)], "slot {slot}'s owner");
        let keys = all["values"]["keys"][usize::from(slot)].as_f64();
        assert_eq!(keys, Some(expected_keys(slot) as f64), "slot {slot}'s keys");
    }
    assert!(all["values"]["cpu"][usize::from(HOT)].as_f64().is_some_and(|cpu| cpu > 0.0), "the hot slot's CPU");
}

/// The JSON index, as curl and scripts get it, whatever a browser gets at the same path.
fn index_bodies(exporter: &ExporterBinary) -> Vec<bytes::Bytes> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let accepts: [&[(&str, &str)]; 3] = [&[], &[("accept", "application/json")], &[("accept", "*/*")]];
    accepts
        .iter()
        .map(|headers| {
            let answer = runtime.block_on(support::http::request(exporter.addr, "GET", "/", headers));
            assert_eq!(answer.status, 200);
            assert_eq!(answer.header("content-type"), Some("application/json"), "{headers:?}");
            assert_eq!(answer.header("vary"), Some("Accept"), "{headers:?}");
            answer.body
        })
        .collect()
}

/// Two clusters, neither reachable: `prod` on port 1, `staging` on port 2.
const TWO_CLUSTERS: &str = "cache_ttl = \"1s\"\nnode_timeout = \"1s\"\n\
    [clusters.prod]\nnodes = [\"redis://127.0.0.1:1\"]\n\
    [clusters.staging]\nnodes = [\"redis://127.0.0.1:2\"]\n";

#[test]
fn each_cluster_has_its_page_which_says_when_no_node_answers() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = dir.path().join("exporter.toml");
    std::fs::write(&config, TWO_CLUSTERS).expect("write the configuration");
    let exporter = ExporterBinary::start(&["--config", config.to_str().unwrap()]);
    // The same index three ways; the envelope's timestamp has whole seconds, so ask
    // again if a second boundary fell between the requests.
    let bodies = (0..5).map(|_| index_bodies(&exporter)).find(|b| b[0] == b[1] && b[1] == b[2]);
    let bodies = bodies.expect("GET / answers the same bytes without Accept, with application/json and with */*");
    let index: Json = serde_json::from_slice(&bodies[0]).expect("the index is JSON");
    assert_eq!(index["data"]["endpoints"]["ui"], "/ui");

    // Several clusters and none named: the page offers them.
    let browser = Browser::start("page_of_each_cluster", 1280, 800);
    browser.open(&format!("http://{}/ui", exporter.addr));
    let offered = browser.wait_for(
        "a choice of clusters",
        WAIT,
        "return document.body.dataset.state === 'choose' &&
           [...document.querySelectorAll('#banner a')].map(a => a.getAttribute('href'));",
    );
    browser.screenshot("1-choose");
    assert_eq!(offered, serde_json::json!(["/ui?cluster=prod", "/ui?cluster=staging"]));
    // Every per-cluster call was refused for want of a name; nothing else went wrong.
    browser.assert_clean_console(&[400]);
    browser.assert_own_origin_only(exporter.addr);

    // Followed, as a person would: prod's page, with prod in every call.
    browser.click("#banner a[href='/ui?cluster=prod']");
    let shown = browser.wait_for(
        "prod's unreachable nodes on its page",
        WAIT,
        &format!(
            "{PIXELS}
            const banner = document.getElementById('banner');
            const row = document.querySelector('#nodes tr[data-node]');
            return document.body.dataset.state === 'unreachable' && row && {{ banner: banner.textContent,
              row: row.textContent, up: row.dataset.up, cells: [0, 8000, 16383].map(cell), nodata,
              cluster: document.getElementById('cluster-name').textContent, url: location.href,
              metrics: document.getElementById('metrics-link').href }};"
        ),
    );
    browser.screenshot("2-unreachable");
    let origin = format!("http://{}", exporter.addr);
    assert_eq!(shown["url"], format!("{origin}/ui?cluster=prod"), "{shown}");
    assert_eq!(shown["cluster"], "prod", "{shown}");
    assert_eq!(shown["metrics"], format!("{origin}/metrics?cluster=prod"), "{shown}");
    assert!(shown["banner"].as_str().unwrap().contains("No Valkey node answered"), "{shown}");
    assert_eq!(shown["up"], "false", "{shown}");
    assert!(shown["row"].as_str().unwrap().contains("connection refused"), "the node's error: {shown}");
    assert!(shown["row"].as_str().unwrap().contains("127.0.0.1:1"), "prod's node, not staging's: {shown}");
    let nodata = set(&shown["nodata"]);
    for cell in shown["cells"].as_array().unwrap() {
        assert!(set(cell).iter().all(|c| nodata.contains(c)), "every slot without data: {shown}");
    }
    // The slot map, hot slots, balance and plan have no data to give: 503, nothing else.
    browser.assert_clean_console(&[503]);
    let paths = browser.assert_own_origin_only(exporter.addr);
    let api: Vec<&String> = paths.iter().filter(|p| p.starts_with("/api/")).collect();
    // At least one refresh: nodes, slot map, hot slots, balance, plan, migrations.
    assert!(api.len() >= 6, "{paths:?}");
    assert!(api.iter().all(|p| p.ends_with("cluster=prod") && p.matches("cluster=").count() == 1), "{api:?}");
    assert!(paths.iter().filter(|p| p.starts_with("/ui/")).all(|p| !p.contains('?')), "{paths:?}");
}
