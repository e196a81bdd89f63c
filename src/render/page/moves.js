// Slot moves as the page lists and outlines them, from `/api/cluster/migrations` and
// the node list of `/api/cluster/nodes`. No DOM here: node tests it.
//
// The API lists each side of a move on its own: a classic move holds a slot
// `migrating` on the source and `importing` on the target; an atomic job (Valkey 9.0+)
// is listed as `export` by the source and as `import` by the target, under one name.
// A person thinks of one move, so the page joins the sides into one row.

import { UNKNOWN, count, duration } from "./format.js";

/** How many finished jobs the section lists, newest first; the JSON has them all. */
export const RECENT_LIMIT = 5;

/** Job states after which the server does nothing more: the exporter's own list. */
const FINISHED = ["success", "failed", "cancelled"];

/** What each kind of row is called in the section and the tooltip. */
export const KIND = { job: "atomic job", open: "classic open slot" };

/** What a slot open on one side only is called, by that side's state. */
const ONE_SIDE = { migrating: "migrating (source only)", importing: "importing (target only)" };

/** What an open slot's age is: Valkey does not record when a slot was opened. */
export const OPEN_AGE = "How long this page has seen the slot open: Valkey does not record when it was opened.";

/** The states `/api/cluster/nodes` gives a primary whose jobs are unknown, and why. */
const UNKNOWN_JOBS = {
  not_supported: (who, many) =>
    `${who} ${many ? "are" : "is"} older than Valkey 9.0: no atomic jobs there; classic moves show as open slots.`,
  not_permitted: (who) => `Jobs unknown on ${who}: the exporter's user may not run CLUSTER GETSLOTMIGRATIONS.`,
  unreadable: (who) => `Jobs unknown on ${who}: their answer had a shape the exporter does not know.`,
};

/** Whether a job in `state` is still under way. */
export function jobInProgress(state) {
  return !FINISHED.includes(state);
}

/** The key an open slot is remembered by between refreshes (see `remember`). */
export function openKey(slot, source, target) {
  return `${slot} ${source}>${target}`;
}

/** The source and target node ids of one `open_slots` entry. */
function ends(open) {
  return open.state === "migrating" ? [open.node_id, open.peer_node_id] : [open.peer_node_id, open.node_id];
}

/** The keys of every open slot in a migrations answer's `data`. */
export function openKeys(data) {
  return data.open_slots.map((o) => openKey(o.slot, ...ends(o)));
}

/**
 * When the page first saw each of `keys`: `previous`'s time for those it saw before,
 * `at` for new ones; keys no longer open are forgotten. The only age an open slot has
 * (see OPEN_AGE).
 */
export function remember(previous, keys, at) {
  return new Map(keys.map((key) => [key, previous.has(key) ? previous.get(key) : at]));
}

/** Sorted slots as inclusive `[first, last]` ranges. */
export function toRanges(slots) {
  const ranges = [];
  for (const slot of [...new Set(slots)].sort((a, b) => a - b)) {
    const last = ranges[ranges.length - 1];
    if (last && last[1] === slot - 1) last[1] = slot;
    else ranges.push([slot, slot]);
  }
  return ranges;
}

/** "slot 42", "slots 0–99 (100)", "slots 0–9, 20 (11)"; the first four ranges only. */
export function slotsText(ranges) {
  const total = ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
  if (total === 1) return `slot ${ranges[0][0]}`;
  const shown = ranges.slice(0, 4).map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`));
  return `slots ${shown.join(", ")}${ranges.length > 4 ? ", …" : ""} (${count(total)})`;
}

/** A node's address, or a short form of its id when the exporter does not list it. */
function nodeName(addresses, id, fallback) {
  if (addresses.has(id)) return addresses.get(id);
  if (fallback) return fallback;
  return id ? `node ${id.slice(0, 8)}…` : UNKNOWN;
}

/** Milliseconds since the epoch, or null. */
function time(text) {
  const ms = text ? Date.parse(text) : NaN;
  return Number.isFinite(ms) ? ms : null;
}

/** One row per source, target and state: the slots held open between two nodes. */
function openRows(openSlots, addresses, now, firstSeen) {
  const bySlot = new Map();
  for (const open of openSlots) {
    const [source, target] = ends(open);
    const key = openKey(open.slot, source, target);
    const seen = bySlot.get(key) || { slot: open.slot, source, target, states: new Set(), nodes: {} };
    seen.states.add(open.state);
    seen.nodes[open.state] = open.node;
    bySlot.set(key, seen);
  }
  const groups = new Map();
  for (const [key, s] of bySlot) {
    const state = s.states.size === 2 ? "open on both sides" : ONE_SIDE[[...s.states][0]];
    const groupKey = `${s.source}>${s.target} ${state}`;
    const group = groups.get(groupKey) || {
      kind: "open",
      slots: [],
      from: nodeName(addresses, s.source, s.nodes.migrating),
      to: nodeName(addresses, s.target, s.nodes.importing),
      state,
      active: true,
      failed: false,
      message: "",
      since: Infinity,
    };
    group.slots.push(s.slot);
    group.since = Math.min(group.since, firstSeen.has(key) ? firstSeen.get(key) : now);
    groups.set(groupKey, group);
  }
  return [...groups.values()].map(({ slots, since, ...row }) => {
    const ranges = toRanges(slots);
    const open = Math.max(0, (now - since) / 1000);
    return { ...row, ranges, started: since, ended: null, when: open < 1 ? "open now" : `open ≥ ${duration(open)}` };
  });
}

/** One row per job name: the source's `export` and the target's `import` side. */
function jobRows(jobs, addresses, now) {
  const byName = new Map();
  for (const job of jobs) byName.set(job.name, [...(byName.get(job.name) || []), job]);
  return [...byName.values()].map((sides) => {
    const exported = sides.find((j) => j.operation === "export");
    const imported = sides.find((j) => j.operation === "import");
    const main = exported || sides[0];
    const other = sides.find((j) => j !== main && j.state !== main.state);
    const active = sides.some((j) => jobInProgress(j.state));
    const started = Math.min(...sides.map((j) => time(j.created) ?? Infinity));
    const ended = Math.max(...sides.map((j) => time(j.updated) ?? time(j.created) ?? -Infinity));
    return {
      kind: "job",
      ranges: main.slot_ranges.map(([a, b]) => [a, b]),
      from: nodeName(addresses, main.source_node_id, exported && exported.node),
      to: nodeName(addresses, main.target_node_id, imported && imported.node),
      state: other ? `${main.state}; ${other.operation}: ${other.state}` : main.state,
      active,
      failed: sides.some((j) => j.state === "failed"),
      message: jobMessage(sides),
      started: Number.isFinite(started) ? started : null,
      ended: Number.isFinite(ended) ? ended : null,
      when: jobWhen(active, started, ended, now),
    };
  });
}

/** The server's messages: once if every side says the same, else each after its side's name. */
function jobMessage(sides) {
  const said = sides.filter((j) => j.message);
  if (said.length === 0) return "";
  const same = said.length === sides.length && said.every((j) => j.message === said[0].message);
  if (same) return said[0].message;
  return said.map((j) => `${j.operation}: ${j.message}`).join(" ");
}

function jobWhen(active, started, ended, now) {
  if (active) return Number.isFinite(started) ? `started ${duration((now - started) / 1000)} ago` : "under way";
  return Number.isFinite(ended) ? `ended ${duration((now - ended) / 1000)} ago` : UNKNOWN;
}

/**
 * The section's rows from a migrations answer's `data`: `active` (open slots by slot,
 * then jobs under way, oldest first), `recent` (finished jobs, newest first, at most
 * RECENT_LIMIT) and `older` (how many finished jobs were left out). `addresses` maps
 * node ids to addresses; `now` is the server's time (ms) the ages are counted to;
 * `firstSeen` is what `remember` returned for this answer.
 */
export function moveRows(data, addresses, now, firstSeen) {
  const open = openRows(data.open_slots, addresses, now, firstSeen).sort((a, b) => a.ranges[0][0] - b.ranges[0][0]);
  const jobs = jobRows(data.jobs, addresses, now);
  const oldestFirst = (a, b) => (a.started ?? Infinity) - (b.started ?? Infinity) || a.ranges[0][0] - b.ranges[0][0];
  const newestFirst = (a, b) => (b.ended ?? -Infinity) - (a.ended ?? -Infinity) || (b.started ?? 0) - (a.started ?? 0);
  const finished = jobs.filter((j) => !j.active).sort(newestFirst);
  return {
    active: [...open, ...jobs.filter((j) => j.active).sort(oldestFirst)],
    recent: finished.slice(0, RECENT_LIMIT),
    older: Math.max(0, finished.length - RECENT_LIMIT),
  };
}

/** Every slot in flight, each with the first active row it belongs to. */
export function movingSlots(active) {
  const moving = new Map();
  for (const row of active) {
    for (const [a, b] of row.ranges) {
      for (let slot = a; slot <= b; slot++) if (!moving.has(slot)) moving.set(slot, row);
    }
  }
  return moving;
}

/** The tooltip's lines for a slot in flight: where from and to, how, and how far. */
export function movingLines(row) {
  return [`moving ${row.from} → ${row.to}`, `${KIND[row.kind]}: ${row.state}`];
}

/**
 * Sentences for the primaries whose jobs are unknown (from `/api/cluster/nodes`'
 * `nodes`), one per reason; none when every primary that answered listed its jobs.
 */
export function unknownJobs(nodes) {
  const primaries = nodes.filter((n) => n.role === "primary" && n.up);
  const notes = [];
  for (const [status, say] of Object.entries(UNKNOWN_JOBS)) {
    const these = primaries.filter((n) => n.migrations === status).map((n) => n.node);
    if (these.length === 0) continue;
    notes.push(say(who(these, primaries.length, status === "not_supported"), these.length > 1));
  }
  return notes;
}

/** "All 3 primaries", up to three addresses, or "5 primaries"; capitalised if `leading`. */
function who(addresses, total, leading) {
  let text;
  if (addresses.length === total && total > 1) text = `all ${total} primaries`;
  else if (addresses.length <= 3) text = addresses.join(", ");
  else text = `${addresses.length} primaries`;
  return leading ? `${text.charAt(0).toUpperCase()}${text.slice(1)}` : text;
}
