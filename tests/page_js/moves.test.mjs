// moves.js: the sides of one move joined into one row, rows in the section's order
// (under way first, then the newest finished jobs), ages, slot texts, the slots the map
// outlines, and the notes on primaries whose jobs are unknown. The inputs have the
// shapes of `/api/cluster/migrations` and `/api/cluster/nodes` answers.

import assert from "node:assert/strict";
import { test } from "node:test";
import { load } from "./load.mjs";

const moves = await load("moves.js");
const { KIND, RECENT_LIMIT, jobInProgress, moveRows, movingLines, movingSlots, openKey, openKeys } = moves;
const { remember, slotsText, toRanges, unknownJobs } = moves;

const A = "a".repeat(40);
const B = "b".repeat(40);
const C = "c".repeat(40);
const ADDRESSES = new Map([
  [A, "127.0.0.1:7001"],
  [B, "127.0.0.1:7002"],
  [C, "127.0.0.1:7003"],
]);
const NOW = Date.parse("2026-12-05T10:00:00Z");
/** RFC 3339 `seconds` before NOW, as the API writes times. */
const ago = (seconds) => new Date(NOW - seconds * 1000).toISOString().replace(".000Z", "Z");

function open(slot, node, state, peer) {
  return { slot, node: ADDRESSES.get(node), node_id: node, state, peer_node_id: peer };
}

function job(name, operation, state, { ranges = [[0, 9]], created = 60, updated = 30, message = "" } = {}) {
  const node = operation === "export" ? A : B;
  return {
    node: ADDRESSES.get(node),
    name,
    operation,
    source_node_id: A,
    target_node_id: B,
    slot_ranges: ranges,
    state,
    message,
    created: created === null ? null : ago(created),
    updated: updated === null ? null : ago(updated),
  };
}

/** Both sides of one atomic job, as the source and the target list it. */
const both = (name, state, options) => [job(name, "export", state, options), job(name, "import", state, options)];

function rows(data, firstSeen = new Map()) {
  return moveRows({ open_slots: [], jobs: [], ...data }, ADDRESSES, NOW, firstSeen);
}

test("a job's state is under way unless the server is done with it", () => {
  for (const state of ["success", "failed", "cancelled"]) assert.equal(jobInProgress(state), false, state);
  for (const state of ["snapshotting", "waiting-to-pause", "a-state-of-valkey-10"]) assert.ok(jobInProgress(state));
});

test("a classic move's two sides are one row, from the source to the target", () => {
  const { active, recent, older } = rows({ open_slots: [open(42, A, "migrating", B), open(42, B, "importing", A)] });
  assert.deepEqual([recent, older], [[], 0]);
  assert.equal(active.length, 1);
  const [row] = active;
  assert.deepEqual(
    { kind: row.kind, ranges: row.ranges, from: row.from, to: row.to, state: row.state, active: row.active },
    {
      kind: "open",
      ranges: [[42, 42]],
      from: "127.0.0.1:7001",
      to: "127.0.0.1:7002",
      state: "open on both sides",
      active: true,
    },
  );
  assert.equal(row.when, "open now", "first seen in this answer");
  assert.equal(KIND[row.kind], "classic open slot");
});

test("a slot open on one side only says which side, and unknown peers show a short id", () => {
  const { active } = rows({ open_slots: [open(7, B, "importing", C.replace(/c/g, "d")), open(9, A, "migrating", B)] });
  assert.deepEqual(
    active.map((r) => [r.ranges, r.from, r.to, r.state]),
    [
      [[[7, 7]], "node dddddddd…", "127.0.0.1:7002", "importing (target only)"],
      [[[9, 9]], "127.0.0.1:7001", "127.0.0.1:7002", "migrating (source only)"],
    ],
  );
});

test("slots open between the same two nodes are one row of ranges", () => {
  const openSlots = [5, 6, 7, 100].flatMap((s) => [open(s, A, "migrating", B), open(s, B, "importing", A)]);
  const { active } = rows({ open_slots: openSlots });
  assert.equal(active.length, 1);
  assert.deepEqual(active[0].ranges, [[5, 7], [100, 100]]);
  assert.equal(slotsText(active[0].ranges), "slots 5–7, 100 (4)");
});

test("an open slot's age is how long the page has seen it, kept across answers and forgotten once closed", () => {
  const data = { open_slots: [open(42, A, "migrating", B), open(42, B, "importing", A)], jobs: [] };
  assert.deepEqual(openKeys(data), [openKey(42, A, B), openKey(42, A, B)]);
  const first = remember(new Map(), openKeys(data), NOW - 125_000);
  const second = remember(first, openKeys(data), NOW - 5_000);
  assert.equal(second.get(openKey(42, A, B)), NOW - 125_000, "the first sighting is kept");
  assert.equal(rows(data, second).active[0].when, "open ≥ 2 min 5 s");
  assert.equal(remember(second, [], NOW).size, 0, "a closed slot is forgotten");
  assert.equal(remember(remember(second, [], NOW), openKeys(data), NOW).get(openKey(42, A, B)), NOW, "reopened: new");
});

test("a job's export and import are one row; finished sides make a finished row", () => {
  const { active, recent } = rows({ jobs: both("j1", "success", { ranges: [[0, 9]], created: 90, updated: 62 }) });
  assert.deepEqual(active, []);
  assert.equal(recent.length, 1);
  const [row] = recent;
  assert.deepEqual(
    [row.kind, row.ranges, row.from, row.to, row.state, row.active, row.message, row.when],
    ["job", [[0, 9]], "127.0.0.1:7001", "127.0.0.1:7002", "success", false, "", "ended 1 min 2 s ago"],
  );
  assert.equal(KIND.job, "atomic job");
});

test("sides in different states show both; a side's message is named by its side", () => {
  // What Valkey 9.1 lists after CLUSTER CANCELSLOTMIGRATIONS on the source.
  const lost = "Connection lost to source. Check CLUSTER GETSLOTMIGRATIONS on the source node for more information.";
  const jobs = [job("j", "export", "cancelled"), job("j", "import", "failed", { message: lost })];
  const [row] = rows({ jobs }).recent;
  assert.equal(row.state, "cancelled; import: failed");
  assert.equal(row.failed, true);
  assert.equal(row.message, `import: ${lost}`);
  // Both sides saying the same thing: said once.
  const same = both("k", "failed", { message: "target gone" });
  assert.equal(rows({ jobs: same }).recent[0].message, "target gone");
  // One side still at work: the move is under way.
  const half = [job("h", "export", "success"), job("h", "import", "finishing")];
  assert.equal(rows({ jobs: half }).active[0].state, "success; import: finishing");
});

test("a job listed by one side only still names both ends", () => {
  const [row] = rows({ jobs: [job("solo", "import", "snapshotting", { created: 4 })] }).active;
  assert.deepEqual(
    [row.from, row.to, row.state, row.when],
    ["127.0.0.1:7001", "127.0.0.1:7002", "snapshotting", "started 4 s ago"],
  );
  // No node list: the listing side's own address, a short id for the other.
  const data = { open_slots: [], jobs: [job("x", "export", "snapshotting", { created: null })] };
  const [alone] = moveRows(data, new Map(), NOW, new Map()).active;
  assert.deepEqual([alone.from, alone.to, alone.when], ["127.0.0.1:7001", "node bbbbbbbb…", "under way"]);
});

test("under way first (open slots by slot, then jobs oldest first), then finished jobs newest first, a handful", () => {
  const finished = Array.from({ length: RECENT_LIMIT + 2 }, (_, i) =>
    both(`done${i}`, i % 2 ? "failed" : "success", { created: 1000, updated: 100 * (i + 1) }),
  ).flat();
  const data = {
    open_slots: [open(300, C, "migrating", A), open(12, A, "migrating", B)],
    jobs: [
      ...finished,
      ...both("young", "snapshotting", { created: 5 }),
      ...both("old", "waiting-to-pause", { created: 50 }),
    ],
  };
  const { active, recent, older } = rows(data);
  assert.deepEqual(
    active.map((r) => [r.kind, r.ranges[0][0], r.state]),
    [
      ["open", 12, "migrating (source only)"],
      ["open", 300, "migrating (source only)"],
      ["job", 0, "waiting-to-pause"],
      ["job", 0, "snapshotting"],
    ],
  );
  assert.equal(recent.length, RECENT_LIMIT);
  assert.equal(older, 2);
  assert.deepEqual(
    recent.map((r) => r.when),
    ["ended 1 min 40 s ago", "ended 3 min 20 s ago", "ended 5 min 0 s ago", "ended 6 min 40 s ago", "ended 8 min 20 s ago"],
  );
  assert.ok(recent.every((r) => !r.active));
});

test("finished jobs without times sort last and say so", () => {
  const jobs = [...both("timeless", "success", { created: null, updated: null }), ...both("timed", "success")];
  const { recent } = rows({ jobs });
  assert.deepEqual(recent.map((r) => r.when), ["ended 30 s ago", "–"]);
});

test("nothing moving: no rows at all", () => {
  assert.deepEqual(rows({}), { active: [], recent: [], older: 0 });
  assert.equal(movingSlots([]).size, 0);
});

test("the map outlines every slot of every row under way, and the tooltip says from where to where", () => {
  const jobs = both("j", "snapshotting", { ranges: [[100, 102], [200, 200]] });
  const data = { open_slots: [open(42, A, "migrating", B)], jobs };
  const { active } = rows(data);
  const moving = movingSlots(active);
  assert.deepEqual([...moving.keys()].sort((a, b) => a - b), [42, 100, 101, 102, 200]);
  const there = "moving 127.0.0.1:7001 → 127.0.0.1:7002";
  assert.deepEqual(movingLines(moving.get(42)), [there, "classic open slot: migrating (source only)"]);
  assert.deepEqual(movingLines(moving.get(101)), [there, "atomic job: snapshotting"]);
  // Finished jobs are history: nothing of theirs is outlined.
  assert.equal(movingSlots(rows({ jobs: both("d", "success") }).active).size, 0);
});

test("slot texts: one slot, ranges with their count, at most four ranges shown", () => {
  assert.equal(slotsText([[42, 42]]), "slot 42");
  assert.equal(slotsText([[0, 99]]), "slots 0–99 (100)");
  assert.equal(slotsText([[0, 5460]]), "slots 0–5460 (5,461)");
  assert.equal(slotsText([[1, 1], [3, 3], [5, 5], [7, 7], [9, 9]]), "slots 1, 3, 5, 7, … (5)");
  assert.deepEqual(toRanges([9, 3, 4, 5, 4, 127, 128]), [[3, 5], [9, 9], [127, 128]]);
  assert.deepEqual(toRanges([]), []);
});

function node(address, migrations, { role = "primary", up = true } = {}) {
  return { node: address, node_id: address, role, up, migrations };
}

test("primaries whose jobs are unknown get one calm sentence per reason; replicas and down nodes none", () => {
  const valkey8 = ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"].map((a) => node(a, "not_supported"));
  assert.deepEqual(unknownJobs(valkey8), [
    "All 3 primaries are older than Valkey 9.0: no atomic jobs there; classic moves show as open slots.",
  ]);
  const mixed = [
    node("127.0.0.1:1", "listed"),
    node("127.0.0.1:2", "not_supported"),
    node("127.0.0.1:3", "not_permitted"),
    node("127.0.0.1:4", "not_permitted"),
    node("127.0.0.1:5", "unreadable"),
    node("127.0.0.1:6", "not_asked", { role: "replica" }),
    node("127.0.0.1:7", "not_asked", { up: false }),
  ];
  assert.deepEqual(unknownJobs(mixed), [
    "127.0.0.1:2 is older than Valkey 9.0: no atomic jobs there; classic moves show as open slots.",
    "Jobs unknown on 127.0.0.1:3, 127.0.0.1:4: the exporter's user may not run CLUSTER GETSLOTMIGRATIONS.",
    "Jobs unknown on 127.0.0.1:5: their answer had a shape the exporter does not know.",
  ]);
  const many = Array.from({ length: 5 }, (_, i) => node(`127.0.0.1:${i}`, "not_permitted")).concat(node("x", "listed"));
  assert.deepEqual(unknownJobs(many), [
    "Jobs unknown on 5 primaries: the exporter's user may not run CLUSTER GETSLOTMIGRATIONS.",
  ]);
  assert.deepEqual(unknownJobs([node("127.0.0.1:1", "listed")]), []);
  assert.deepEqual(unknownJobs([]), []);
});
