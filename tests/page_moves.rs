//! The page's Moves section and the slot map's outlines of slots in flight (issue 17),
//! in headless Chromium against the real binary and real clusters: a slot held open by
//! hand on Valkey 8.0 (`CLUSTER SETSLOT ... IMPORTING/MIGRATING`), and atomic migration
//! jobs on Valkey 9.1, one held in progress with `DEBUG SLOTMIGRATION PREVENT-PAUSE 1`
//! (the hook Valkey's own tests use; the test servers accept DEBUG from loopback), then
//! let go to finish, then one cancelled mid-way. What is checked is what a person sees:
//! the rows, the colours drawn around the slot's cell, the tooltip, and the section
//! saying plainly when nothing moves.

mod support;

use serde_json::Value as Json;
use std::time::Duration;
use support::browser::Browser;
use support::{ExporterBinary, SLOT_COUNT, ValkeyCluster};

const WAIT: Duration = Duration::from_secs(30);

/// Functions the checks run in the page: the colours drawn at and around a slot's cell,
/// the outline's colour as the legend shows it, the Moves section's rows.
const PAGE: &str = concat!(
    map_pixels_js!(),
    r#"
// Every colour in the strips one cell wide just above and just below a slot's cell:
// where its outline is drawn, if it has one.
const around = (slot) => {
  const x = (slot % 128) * side, y = Math.floor(slot / 128) * side;
  return [...new Set([...rgb(map, x, y - side, side, side), ...rgb(map, x, y + side, side, side)])];
};
const moving = rgb(document.getElementById('legend-moving'), 2, 6)[0];
const outlined = (slot) => around(slot).includes(moving);
const summary = () => (document.querySelector('#moves .moves-summary') || {}).textContent;
// Each move's row: what a person reads in it, by part.
const rows = () => [...document.querySelectorAll('#moves tbody tr[data-kind]')].map(tr => {
  const text = (part) => (tr.querySelector(`.${part}`) || {}).textContent;
  return { kind: tr.dataset.kind, active: tr.dataset.active, slots: tr.dataset.slots,
    cells: ['slot', 'kind', 'from', 'to', 'state', 'when', 'message'].map(text),
    failed: tr.querySelectorAll('.failed').length };
});
// The lines that part the moves under way from the finished ones.
const groups = () => [...document.querySelectorAll('#moves tr.group')].map(tr => tr.textContent);
const notes = () => [...document.querySelectorAll('#moves .notes p')].map(p => p.textContent);
"#
);

/// The tooltip's lines with the pointer on `slot`'s cell; the pointer then leaves.
fn tooltip(browser: &Browser, slot: usize) -> Vec<String> {
    let lines = browser.run(&format!(
        "const map = document.getElementById('map');
         const box = map.getBoundingClientRect();
         map.dispatchEvent(new PointerEvent('pointermove', {{ bubbles: true,
           clientX: box.left + ({slot} % 128 + 0.5) * box.width / 128,
           clientY: box.top + (Math.floor({slot} / 128) + 0.5) * box.height / 128 }}));
         const lines = [...document.getElementById('tip').children].map(line => line.textContent);
         map.dispatchEvent(new PointerEvent('pointerleave'));
         return lines;"
    ));
    lines.as_array().expect("the tooltip's lines").iter().map(|l| l.as_str().unwrap().to_string()).collect()
}

/// A row's parts: slots, kind, from, to, state, when, message ("" when there is none).
fn row_cells(row: &Json) -> Vec<String> {
    row["cells"].as_array().expect("cells").iter().map(|c| c.as_str().unwrap_or_default().to_string()).collect()
}

/// The first slot from `from` on starting `count` contiguous slots of `owner` that lie in
/// one row of the map, clear of its edges (an outline is drawn outside the cells).
fn slots_inside_the_map(owners: &[String], owner: &str, count: usize, from: usize) -> usize {
    (from.max(128)..usize::from(SLOT_COUNT) - 128)
        .find(|&s| s % 128 >= 1 && s % 128 + count <= 127 && (s..s + count).all(|t| owners[t] == owner))
        .unwrap_or_else(|| panic!("{count} contiguous slots of {owner} inside the map"))
}

/// Each refresh asks for the migrations once: as many requests as refreshes.
fn assert_one_migrations_request_per_refresh(browser: &Browser) {
    browser.wait_for(
        "as many migrations requests as refreshes, two refreshes or more",
        WAIT,
        "const asked = performance.getEntriesByType('resource')
           .filter(e => new URL(e.name).pathname === '/api/cluster/migrations').length;
         const refreshes = Number(document.body.dataset.refreshes || 0);
         return refreshes >= 2 && asked === refreshes && { asked, refreshes };",
    );
}

/// The open slot's outline on each measure and in the dark theme: there each time, in
/// a colour no value, "0", "no data" or owner line of the map is drawn in.
fn assert_outlined_on_every_measure_and_theme(browser: &Browser, slot: usize) {
    let mut seen = Vec::new();
    for (by, dark) in [("cpu", false), ("keys", false), ("network", false), ("network", true)] {
        if by != "cpu" {
            browser.click(&format!("label[for=by-{by}]"));
        }
        if dark {
            let features = serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]});
            browser.devtools("Emulation.setEmulatedMedia", features);
        }
        // Dark: redrawn once the legend's outline differs from the light one.
        let redrawn = if dark { format!("moving !== '{}'", seen[0]) } else { "true".to_string() };
        let colours = browser.wait_for(
            &format!("the open slot outlined by {by}, dark: {dark}"),
            WAIT,
            &format!(
                "{PAGE} const ramp = document.getElementById('legend-ramp');
                 const others = [...rgb(ramp, 0, 0, ramp.width, 1), ...rgb(document.getElementById('legend-zero'), 5, 5),
                   ...rgb(document.getElementById('legend-nodata'), 0, 0, 12, 12), ...cell({slot})];
                 const edge = parseInt(getComputedStyle(document.documentElement).getPropertyValue('--map-edge').trim().slice(1), 16);
                 others.push(`${{edge >> 16 & 255}},${{edge >> 8 & 255}},${{edge & 255}}`);
                 return map.dataset.by === '{by}' && {redrawn} && outlined({slot}) &&
                   {{ moving, others: [...new Set(others)] }};"
            ),
        );
        let moving = colours["moving"].as_str().unwrap().to_string();
        assert!(!colours["others"].as_array().unwrap().iter().any(|c| c == &moving[..]), "{colours}");
        seen.push(moving);
    }
}

fn start_exporter(cluster: &ValkeyCluster) -> ExporterBinary {
    ExporterBinary::start(&["--nodes", &cluster.seed_url(), "--cache-ttl", "1s", "--node-timeout", "1s"])
}

#[test]
fn a_slot_opened_by_hand_on_valkey_8_is_listed_outlined_and_gone_once_assigned() {
    let cluster = ValkeyCluster::start(3, 0);
    let primaries = cluster.primaries();
    let (source, target) = (&primaries[0], &primaries[1]);
    let ids = cluster.node_ids();
    let owners = cluster.slot_owners();
    let slot = slots_inside_the_map(&owners, source, 1, 0);
    // A slot of the same primary three rows further: never outlined.
    let still = slots_inside_the_map(&owners, source, 1, slot + 3 * 128);
    let exporter = start_exporter(&cluster);

    let browser = Browser::start("page_moves_open_slot", 1280, 800);
    browser.open(&format!("http://{}/ui", exporter.addr));
    let calm = browser.wait_for(
        "the Moves section saying nothing moves",
        WAIT,
        &format!(
            "{PAGE} return summary() === 'No slot is moving.' &&
               {{ rows: rows(), notes: notes(), slot: outlined({slot}) }};"
        ),
    );
    assert_eq!(calm["rows"], serde_json::json!([]), "{calm}");
    assert_eq!(calm["slot"], false, "nothing outlined: {calm}");
    let notes = calm["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "one calm note on the jobs Valkey 8 cannot have: {calm}");
    assert_eq!(
        notes[0],
        "All 3 primaries are older than Valkey 9.0: no atomic jobs there; classic moves show as open slots."
    );

    let slot_text = slot.to_string();
    cluster.cmd(target, &["CLUSTER", "SETSLOT", &slot_text, "IMPORTING", &ids[source]]);
    cluster.cmd(source, &["CLUSTER", "SETSLOT", &slot_text, "MIGRATING", &ids[target]]);
    let open = browser.wait_for(
        "the open slot listed and outlined",
        WAIT,
        &format!(
            "{PAGE} const r = rows();
             return r.length === 1 && outlined({slot}) && {{ rows: r, summary: summary(), moving,
               centre: cell({slot}), still: around({still}) }};"
        ),
    );
    browser.screenshot("1-open-slot");
    let row = &open["rows"][0];
    assert_eq!((row["kind"].as_str(), row["active"].as_str()), (Some("open"), Some("true")), "{open}");
    assert_eq!(row["slots"], format!("{slot}-{slot}"));
    let cells = row_cells(row);
    let what = format!("slot {slot}");
    let expected = [what.as_str(), "classic open slot", source.as_str(), target.as_str(), "open on both sides"];
    assert_eq!(cells[..5], expected, "{open}");
    assert!(cells[5] == "open now" || cells[5].starts_with("open ≥ "), "the age the page has seen: {cells:?}");
    assert_eq!(cells[6], "", "no message: {cells:?}");
    assert_eq!(open["summary"], "1 move under way.");
    let moving = open["moving"].as_str().unwrap();
    assert!(!open["centre"].as_array().unwrap().iter().any(|c| c == moving), "the cell keeps its own colour: {open}");
    assert!(!open["still"].as_array().unwrap().iter().any(|c| c == moving), "other slots are not outlined: {open}");

    let tip = tooltip(&browser, slot);
    assert!(tip.contains(&format!("moving {source} → {target}")), "{tip:?}");
    assert!(tip.contains(&"classic open slot: open on both sides".to_string()), "{tip:?}");
    assert_eq!(tooltip(&browser, still).len(), 5, "a slot not moving: slot, owner, three measures");
    assert_outlined_on_every_measure_and_theme(&browser, slot);

    // Assigned to the target everywhere: the move is over, nothing outlined.
    for node in &primaries {
        cluster.cmd(node, &["CLUSTER", "SETSLOT", &slot_text, "NODE", &ids[target]]);
    }
    let done = browser.wait_for(
        "nothing moving once the slot is assigned",
        WAIT,
        &format!("{PAGE} return summary() === 'No slot is moving.' && !outlined({slot}) && {{ rows: rows() }};"),
    );
    browser.screenshot("2-assigned");
    assert_eq!(done["rows"], serde_json::json!([]), "Valkey 8 lists no finished moves: {done}");
    assert_one_migrations_request_per_refresh(&browser);
    browser.assert_clean_console(&[]);
    browser.assert_own_origin_only(exporter.addr);
}

#[test]
fn atomic_jobs_on_valkey_9_are_listed_under_way_outlined_then_recent_newest_first() {
    let cluster = ValkeyCluster::start_valkey9(3, 0);
    let primaries = cluster.primaries();
    let (source, target) = (&primaries[0], &primaries[1]);
    let ids = cluster.node_ids();
    let owners = cluster.slot_owners();
    // Twenty contiguous slots of the source in one map row: two moves of ten.
    let first = slots_inside_the_map(&owners, source, 20, 0);
    let (middle, second) = (first + 5, first + 10);
    let exporter = start_exporter(&cluster);
    let hold = |on: &str| {
        let reply = cluster.cmd(source, &["DEBUG", "SLOTMIGRATION", "PREVENT-PAUSE", on]);
        assert_eq!(reply.as_str(), Some("OK"), "DEBUG SLOTMIGRATION PREVENT-PAUSE {on}: {reply:?}");
    };
    let migrate = |start: usize| {
        let (a, b) = (start.to_string(), (start + 9).to_string());
        let reply = cluster.cmd(source, &["CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", &a, &b, "NODE", &ids[target]]);
        assert_eq!(reply.as_str(), Some("OK"), "{reply:?}");
    };

    let browser = Browser::start("page_moves_jobs", 1280, 800);
    browser.open(&format!("http://{}/ui", exporter.addr));

    // Held before the write pause: the job stays under way until let go.
    hold("1");
    migrate(first);
    let held = browser.wait_for(
        "the job under way, listed and outlined",
        WAIT,
        &format!(
            "{PAGE} const r = rows();
             return r.length === 1 && r[0].active === 'true' && outlined({middle}) &&
               {{ rows: r, moving, centre: cell({middle}), next: outlined({second} + 1), notes: notes() }};"
        ),
    );
    browser.screenshot("1-job-under-way");
    let row = &held["rows"][0];
    assert_eq!(row["kind"], "job", "{held}");
    assert_eq!(row["slots"], format!("{first}-{}", first + 9));
    let cells = row_cells(row);
    let what = format!("slots {first}–{} (10)", first + 9);
    assert_eq!(cells[..4], [what.as_str(), "atomic job", source.as_str(), target.as_str()], "{held}");
    assert!(!["success", "failed", "cancelled"].contains(&cells[4].as_str()), "a state under way: {cells:?}");
    assert!(cells[5].starts_with("started ") && cells[5].ends_with(" ago"), "{cells:?}");
    assert_eq!(held["next"], false, "only the job's slots are outlined: {held}");
    assert!(!held["centre"].as_array().unwrap().iter().any(|c| c == &held["moving"]), "{held}");
    assert_eq!(held["notes"], serde_json::json!([]), "every primary lists its jobs: no note");
    let tip = tooltip(&browser, middle);
    assert!(tip.contains(&format!("moving {source} → {target}")), "{tip:?}");
    assert!(tip.iter().any(|l| l == &format!("atomic job: {}", cells[4])), "{tip:?}");

    // Let go: it finishes, and shows as recent; nothing moves any more.
    hold("0");
    let finished = browser.wait_for(
        "the job finished, recent, nothing outlined",
        WAIT,
        &format!(
            "{PAGE} const r = rows();
             return r.length === 1 && r[0].active === 'false' && summary() === 'No slot is moving.' &&
               !outlined({middle}) && {{ rows: r }};"
        ),
    );
    browser.screenshot("2-job-finished");
    let cells = row_cells(&finished["rows"][0]);
    assert_eq!(cells[4], "success", "{finished}");
    assert!(cells[5].starts_with("ended ") && cells[5].ends_with(" ago"), "{cells:?}");
    assert_eq!(owners_now(&cluster, first), *target, "the move itself happened");

    // A second move, cancelled on the source while held: the target's side fails with
    // the server's reason, which the row shows. It is the newest, so it comes first.
    hold("1");
    migrate(second);
    browser.wait_for(
        "the second job under way",
        WAIT,
        &format!("{PAGE} return rows().some(r => r.active === 'true' && r.slots === '{second}-{}');", second + 9),
    );
    let reply = cluster.cmd(source, &["CLUSTER", "CANCELSLOTMIGRATIONS"]);
    assert_eq!(reply.as_str(), Some("OK"), "{reply:?}");
    hold("0");
    let cancelled = browser.wait_for(
        "the cancelled job first, then the successful one",
        WAIT,
        &format!(
            "{PAGE} const r = rows();
             return r.length === 2 && r.every(x => x.active === 'false') && summary() === 'No slot is moving.' &&
               !outlined({second} + 5) && {{ rows: r, groups: groups() }};"
        ),
    );
    browser.screenshot("3-job-cancelled");
    let (newest, older) = (&cancelled["rows"][0], &cancelled["rows"][1]);
    assert_eq!(newest["slots"], format!("{second}-{}", second + 9), "{cancelled}");
    assert_eq!(older["slots"], format!("{first}-{}", first + 9), "{cancelled}");
    let cells = row_cells(newest);
    // What Valkey 9.1 lists after CANCELSLOTMIGRATIONS on the source (measured): the
    // export cancelled, the import failed for want of its source.
    assert_eq!(cells[4], "cancelled; import: failed", "{cancelled}");
    assert!(cells[6].starts_with("import: Connection lost to source"), "the server's reason: {cells:?}");
    assert_eq!(newest["failed"], 2, "the failed state and its message stand out: {cancelled}");
    assert_eq!(cancelled["groups"], serde_json::json!(["recently finished"]), "{cancelled}");
    let older = row_cells(older);
    assert_eq!((older[4].as_str(), older[6].as_str()), ("success", ""), "no message for a success: {cancelled}");
    assert_eq!(owners_now(&cluster, second), *source, "a cancelled move leaves the slots where they were");
    browser.assert_clean_console(&[]);
    browser.assert_own_origin_only(exporter.addr);
}

/// The primary serving `slot` now, per `CLUSTER SLOTS`.
fn owners_now(cluster: &ValkeyCluster, slot: usize) -> String {
    cluster.slot_owners()[slot].clone()
}
