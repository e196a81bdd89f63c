// The page: everything comes from the exporter's JSON API and is fetched again every
// cache TTL (the exporter's snapshots are no fresher than that), without a reload.
// One measure (keys, CPU or network) is chosen for the map, the hot slots and the plan;
// the slot map comes in all three at once (one request per refresh), so switching
// redraws the map at once and the tooltip shows every measure. Slot moves come once a
// refresh too: listed in their section, outlined on the map, named in the tooltip.

import { clusterParameter, getJson, withCluster } from "./api.js";
import { el, fill, setText, upBadge } from "./dom.js";
import { HOT_LIMIT, MEASURES, SIDE, SLOT_COUNT } from "./constants.js";
import { count, duration } from "./format.js";
import {
  drawLegend,
  drawMap,
  drawStrip,
  markSlot,
  outlineMoving,
  ownerColour,
  rangesByOwner,
  slotAt,
  theme,
} from "./map.js";
import { moveRows, movingLines, movingSlots, openKeys, remember, unknownJobs } from "./moves.js";
import { renderBalance, renderHot, renderMoves, renderNodes, renderPlan } from "./tables.js";

/** Bounds on the refresh interval, whatever the TTL: not hammering, not stale. */
const MIN_REFRESH_S = 1;
const MAX_REFRESH_S = 300;
/** After a failed answer, try again this soon (the exporter says Retry-After: 1). */
const RETRY_S = 2;
/** Asked again this long after the moment the exporter said rates would be ready. */
const RATES_MARGIN_S = 0.3;
/** Which clusters exist changes only with the exporter's configuration. */
const CHOOSE_AGAIN_S = 30;
/** The API's answers when the page must name a cluster, or named one it does not know. */
const CHOOSE = ["cluster_required", "unknown_cluster"];

const state = {
  measure: "cpu",
  nodes: null, // the last /api/cluster/nodes answer
  map: null, // the last /api/cluster/slot-map?by=all answer: owners and every measure
  ageAtReceipt: null, // seconds the snapshot was old when the answer arrived
  receivedAt: 0,
  generation: 0,
  timer: null,
  focus: null, // the slot the keyboard points at
  marked: null, // the slot of the table row under the pointer, ringed on the map
  moves: null, // the last migrations answer, as rows (see readMoves)
  moving: new Map(), // slot in flight -> its row of the Moves section
  firstSeen: new Map(), // open slot -> when this page first saw it open (moves.js `remember`)
};

const canvas = document.getElementById("map");

/** Fetches everything for the current measure and draws it; then schedules the next. */
async function refresh() {
  clearTimeout(state.timer);
  const generation = ++state.generation;
  const measure = state.measure;
  const answers = await Promise.all([
    getJson("/api/cluster/nodes"),
    getJson("/api/cluster/slot-map?by=all"),
    getJson(`/api/cluster/hot-slots?by=${measure}&limit=${HOT_LIMIT}`),
    getJson("/api/cluster/balance"),
    getJson(`/api/cluster/rebalance-plan?by=${measure}`),
    getJson("/api/cluster/migrations"),
  ]);
  // A switch of measure started a newer refresh meanwhile: it draws, not this one.
  if (generation !== state.generation) return;
  const [nodes, map, hot, balance, plan, migrations] = answers;
  // Several clusters and none (or an unknown one) named: offer the configured ones.
  const clusters = !nodes.ok && CHOOSE.includes(nodes.error.code) ? await getJson("/api/clusters", false) : null;
  if (generation !== state.generation) return;
  state.nodes = nodes;
  state.map = map;
  state.receivedAt = performance.now();
  state.ageAtReceipt = nodes.ok ? snapshotAge(nodes) : null;
  try {
    state.moves = readMoves(migrations, nodes);
    state.moving = state.moves.rows ? movingSlots(state.moves.rows.active) : new Map();
    renderHeader();
    renderBanner(nodes, map, clusters);
    renderMap();
    renderHot(hot, measure);
    renderBalance(balance);
    renderMoves(state.moves);
    renderNodes(nodes);
    renderPlan(plan, measure);
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
  } finally {
    // Even a drawing bug must not stop the page from refreshing.
    state.timer = setTimeout(refresh, nextRefreshSeconds(answers) * 1000);
  }
}

/**
 * The migrations answer as the Moves section's rows, node ids turned into addresses
 * with the nodes answer, and the notes on primaries whose jobs are unknown.
 */
function readMoves(answer, nodes) {
  if (!answer.ok) return { answer, rows: null, notes: [] };
  const known = nodes.ok ? nodes.data.nodes : [];
  const addresses = new Map(known.map((n) => [n.node_id, n.node]));
  state.firstSeen = remember(state.firstSeen, openKeys(answer.data), Date.parse(answer.data.snapshot_timestamp));
  const rows = moveRows(answer.data, addresses, Date.parse(answer.timestamp), state.firstSeen);
  return { answer, rows, notes: unknownJobs(known) };
}

/** Seconds between the snapshot and the server's clock when it answered. */
function snapshotAge(answer) {
  const age = (Date.parse(answer.timestamp) - Date.parse(answer.data.snapshot_timestamp)) / 1000;
  // The envelope's timestamp has whole seconds only.
  return Number.isFinite(age) ? Math.max(0, age) : null;
}

function nextRefreshSeconds(answers) {
  if (!answers[0].ok && CHOOSE.includes(answers[0].error.code)) return CHOOSE_AGAIN_S;
  if (answers.some((a) => !a.ok && a.error.code !== "cluster_unreachable")) return RETRY_S;
  const ttl = state.nodes.ok ? state.nodes.data.cache_ttl_seconds : RETRY_S;
  const regular = Math.min(MAX_REFRESH_S, Math.max(MIN_REFRESH_S, ttl));
  // Current rates are on their way (the exporter's first window): ask again when they are.
  const ready = answers.map((a) => (a.ok ? a.data.rates_ready_in_seconds : null)).filter(Number.isFinite);
  return ready.length > 0 ? Math.min(regular, Math.max(...ready) + RATES_MARGIN_S) : regular;
}

function renderHeader() {
  const answer = state.nodes;
  if (!answer.ok) return;
  const d = answer.data;
  setText("cluster-name", d.cluster);
  const up = d.nodes.filter((n) => n.up).length;
  setText("nodes-up", `${up} of ${d.nodes.length}`);
  document.getElementById("nodes-up").classList.toggle("warn", up < d.nodes.length);
  setText("profile", d.profile);
  setText("ttl", `every ${duration(d.cache_ttl_seconds)}`);
  tickAge();
}

/** The snapshot's age, counted on between refreshes. */
function tickAge() {
  if (state.ageAtReceipt === null) return setText("age", "–");
  const age = state.ageAtReceipt + (performance.now() - state.receivedAt) / 1000;
  setText("age", `${duration(age)} ago`);
}

/** A banner for the states that make everything else moot. */
function renderBanner(nodes, map, clusters) {
  const banner = document.getElementById("banner");
  if (clusters) return chooseCluster(banner, nodes, clusters);
  let text = null;
  if (!nodes.ok) text = `No answer from the exporter's API: ${nodes.error.message}. Retrying.`;
  else if (!map.ok && map.error.code === "cluster_unreachable") text = sentence(map.error.message);
  else if (nodes.data.nodes.length > 0 && nodes.data.nodes.every((n) => !n.up)) text = "No Valkey node answered.";
  banner.hidden = text === null;
  banner.textContent = text || "";
  document.body.dataset.state = text === null ? "ok" : nodes.ok ? "unreachable" : "no-api";
}

/** The exporter serves several clusters: links to the page of each. */
function chooseCluster(banner, nodes, clusters) {
  const names = clusters.ok ? clusters.data.clusters.map((c) => c.name) : [];
  const links = names.map((name) => el("a", { href: `/ui?cluster=${encodeURIComponent(name)}`, text: name }));
  const asked = clusterParameter();
  const why = asked === null ? "This exporter serves several clusters." : `There is no cluster "${asked}" here.`;
  const pick = links.length > 0 ? [" Pick one: ", ...links.flatMap((a, i) => (i === 0 ? [a] : [" · ", a]))] : [];
  banner.replaceChildren(pick.length > 0 ? why : nodes.error.message, ...pick);
  banner.hidden = false;
  document.body.dataset.state = "choose";
}

/** "no Valkey node answered (...)" as a sentence. */
function sentence(text) {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}${text.endsWith(".") ? "" : "."}`;
}

/** Draws the map, its legend and the ownership strip for the chosen measure. */
function renderMap() {
  const answer = state.map;
  if (!answer) return;
  const colours = theme();
  const empty = { slot_count: SLOT_COUNT, nodes: [], owners: new Array(SLOT_COUNT).fill(null), values: {} };
  const data = answer.ok ? answer.data : empty;
  // No rate yet (the second snapshot is seconds away): the keys, known from the first,
  // rather than a whole map of "no data".
  const coming = answer.ok && MEASURES[state.measure].rate && ratesComing(data);
  const shown = coming ? "keys" : state.measure;
  const values = data.values[shown] || [];
  const scale = drawMap(canvas, data.owners, values, data.nodes, colours);
  outlineMoving(canvas, state.moving, colours);
  if (state.marked !== null) markSlot(canvas, state.marked, colours);
  drawLegend(colours);
  drawStrip(document.getElementById("strip"), data.owners, data.nodes, colours);
  renderOwners(data, colours);
  const format = MEASURES[shown].short;
  setText("legend-lo", scale ? format(scale.lo) : "–");
  setText("legend-hi", scale ? format(scale.hi) : "–");
  // The answer's note is about rates; keys need none.
  const rateNote = answer.ok && MEASURES[state.measure].rate ? answer.data.note : undefined;
  const note = !answer.ok ? answer.error.message : coming ? comingNote(data) : rateNote || windowNote(data);
  setText("map-note", note);
  canvas.dataset.by = state.measure;
  canvas.dataset.rates = coming ? "coming" : answer.ok && !rateNote ? "yes" : "no";
  const known = (o, slot) => o !== null && data.nodes[o] && data.nodes[o].up && values[slot] !== null;
  const missing = data.owners.filter((o, slot) => !known(o, slot)).length;
  const label = `Slot map by ${MEASURES[shown].label}`;
  const slots = `${count(data.slot_count - missing)} slots with data, ${count(missing)} without`;
  canvas.setAttribute("aria-label", `${label}: ${slots}.`);
}

function windowNote(data) {
  if (!MEASURES[state.measure].rate || data.window_seconds === null) return "";
  const note = `Rates over the last ${data.window_seconds.toFixed(1)} s between two snapshots.`;
  // A window over a long unobserved time: current rates follow within seconds.
  const ready = data.rates_ready_in_seconds;
  return Number.isFinite(ready) ? `${note} Current rates in ~${Math.ceil(ready)} s.` : note;
}

/** Whether the answer has no rates yet but says when they come. */
function ratesComing(data) {
  return data.window_seconds === null && Number.isFinite(data.rates_ready_in_seconds);
}

function comingNote(data) {
  const seconds = Math.max(1, Math.ceil(data.rates_ready_in_seconds));
  const why = "rates need two snapshots; the second is on its way";
  return `${MEASURES[state.measure].label} rates in ~${seconds} s (${why}). Showing keys until then.`;
}

/** Which primary owns which slots: a colour chip (as in the strip), state and ranges. */
function renderOwners(data, colours) {
  const ranges = rangesByOwner(data.owners, data.nodes.length);
  const items = data.nodes.map((node, i) => {
    const chip = el("span", { class: "chip", "aria-hidden": "true" });
    chip.style.backgroundColor = ownerColour(colours, i);
    const own = ranges[i];
    const slots = own.reduce((n, [a, b]) => n + b - a + 1, 0);
    const shown = own.slice(0, 3).map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(", ");
    const text = own.length === 0 ? "no slots" : `${count(slots)} slots: ${shown}${own.length > 3 ? ", …" : ""}`;
    const name = el("span", { class: "name", text: node.node });
    return el("li", { "data-node": node.node }, chip, name, upBadge(node.up), el("span", { class: "ranges", text }));
  });
  fill("owners", items);
}

/** What the tooltip says about one slot: owner, and all three measures. */
function describe(slot) {
  const answer = state.map;
  const lines = [`slot ${slot} · row ${Math.floor(slot / SIDE)}, column ${slot % SIDE}`];
  if (!answer || !answer.ok) return lines.concat("no data: the cluster did not answer");
  const { owners, nodes, values } = answer.data;
  const owner = owners[slot];
  const node = owner === null ? null : nodes[owner];
  if (!node) return lines.concat("no owner: the slot is not assigned");
  lines.push(`owner ${node.node} (${node.up ? "up" : "down"})`);
  if (state.moving.has(slot)) lines.push(...movingLines(state.moving.get(slot)));
  if (!node.up) return lines.concat("no data: its primary did not answer");
  for (const [m, { label, format }] of Object.entries(MEASURES)) {
    const value = values[m] ? values[m][slot] : null;
    lines.push(`${label} ${format(value)}`);
  }
  return lines;
}

/** Shows the tooltip for `slot` next to the point (x, y) in the map's box. */
function showTip(slot, x, y) {
  const tip = document.getElementById("tip");
  if (slot === null) return (tip.hidden = true);
  tip.replaceChildren(...describe(slot).map((line) => el("div", { text: line })));
  tip.hidden = false;
  const box = canvas.getBoundingClientRect();
  const left = x + 14 + tip.offsetWidth > box.width ? x - 14 - tip.offsetWidth : x + 14;
  tip.style.left = `${Math.max(0, left)}px`;
  tip.style.top = `${Math.max(0, Math.min(y + 14, box.height - tip.offsetHeight))}px`;
}

function onPointer(event) {
  const box = canvas.getBoundingClientRect();
  showTip(slotAt(canvas, event), event.clientX - box.left, event.clientY - box.top);
}

/** Arrow keys walk the map from the focused canvas, for people without a pointer. */
function onKey(event) {
  const steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -SIDE, ArrowDown: SIDE };
  if (!(event.key in steps)) return;
  event.preventDefault();
  state.focus = Math.min(SLOT_COUNT - 1, Math.max(0, (state.focus ?? -steps[event.key]) + steps[event.key]));
  const cell = canvas.getBoundingClientRect().width / SIDE;
  showTip(state.focus, ((state.focus % SIDE) + 0.5) * cell, (Math.floor(state.focus / SIDE) + 0.5) * cell);
}

/** Rings the slot of a hot-slot or plan row on the map (null: none). */
function onRow(row) {
  const slot = row ? Number(row.dataset.slot) : null;
  if (slot === state.marked) return;
  state.marked = slot;
  renderMap();
}

/** The measure switch: redraw the map at once, fetch hot slots and plan for it. */
function onMeasure(event) {
  state.measure = event.target.value;
  for (const label of document.querySelectorAll(".by-label")) label.textContent = MEASURES[state.measure].label;
  setLinks();
  renderMap();
  refresh();
}

/** Links to the JSON behind each section and to /metrics, for the same cluster. */
function setLinks() {
  const m = state.measure;
  const links = {
    "metrics-link": "/metrics",
    "map-json": `/api/cluster/slot-map?by=${m}`,
    "hot-json": `/api/cluster/hot-slots?by=${m}&limit=${HOT_LIMIT}`,
    "balance-json": "/api/cluster/balance",
    "nodes-json": "/api/cluster/nodes",
    "plan-json": `/api/cluster/rebalance-plan?by=${m}`,
    "moves-json": "/api/cluster/migrations",
  };
  for (const [id, path] of Object.entries(links)) document.getElementById(id).href = withCluster(path);
}

function start() {
  // Numbers from constants.js, so the text cannot disagree with what is drawn and asked.
  setText("map-grid", `${SIDE} × ${SIDE} cells, slot = row × ${SIDE} + column`);
  setText("hot-limit", String(HOT_LIMIT));
  state.measure = document.querySelector('input[name="by"]:checked').value;
  for (const input of document.querySelectorAll('input[name="by"]')) input.addEventListener("change", onMeasure);
  canvas.addEventListener("pointermove", onPointer);
  canvas.addEventListener("pointerdown", onPointer);
  canvas.addEventListener("pointerleave", () => showTip(null));
  canvas.addEventListener("keydown", onKey);
  canvas.addEventListener("blur", () => showTip(null));
  for (const id of ["hot", "plan", "moves"]) {
    const box = document.getElementById(id);
    box.addEventListener("mouseover", (event) => onRow(event.target.closest("tr[data-slot]")));
    box.addEventListener("mouseleave", () => onRow(null));
  }
  let pending = false;
  const redraw = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => ((pending = false), renderMap()));
  };
  window.addEventListener("resize", redraw);
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", redraw);
  setInterval(tickAge, 1000);
  setLinks();
  refresh();
}

start();
