// The page's tables: hottest slots, balance across primaries, moves, nodes, and the
// rebalance plan. Each takes one API answer (see api.js) and replaces its section's
// content; an error answer shows its message in place of the table.

import { el, fill, upBadge, shareBar } from "./dom.js";
import { MEASURES, SLOT_COUNT } from "./constants.js";
import { UNKNOWN, byteRate, count, cpuRate, millis, percent, ratio } from "./format.js";
import { KIND, OPEN_AGE, slotsText } from "./moves.js";

function table(head, rows, numeric = []) {
  const cells = head.map((h, i) => el("th", { scope: "col", class: numeric.includes(i) ? "num" : null, text: h }));
  return el("table", {}, el("thead", {}, el("tr", {}, cells)), el("tbody", {}, rows));
}

function row(values, numeric = [], attrs = {}) {
  return el("tr", attrs, values.map((v, i) => el("td", { class: numeric.includes(i) ? "num" : null }, v)));
}

/** The message shown instead of a section's content. */
function message(text, kind = "note") {
  return el("p", { class: kind, text });
}

function failure(answer) {
  return message(answer.error.message, answer.error.code === "cluster_unreachable" ? "missing" : "error");
}

/** Each hot-slot entry's value of the measure it was ranked by. */
const RANKED_BY = {
  keys: (s) => s.key_count,
  cpu: (s) => s.cpu_usec_per_sec,
  network: (s) => sum(s.network_bytes_in_per_sec, s.network_bytes_out_per_sec),
};

/**
 * Hottest slots for the chosen measure, hottest first. Slots at 0 are left out: on a
 * quiet cluster the API fills every place it was asked for with them, and they are not hot.
 */
export function renderHot(answer, measure) {
  if (!answer.ok) return fill("hot", failure(answer));
  const slots = answer.data.slots.filter((s) => RANKED_BY[measure](s) > 0);
  const label = MEASURES[measure].label;
  const none = `No slot has any ${label} in the last window.`;
  if (slots.length === 0) return fill("hot", message(answer.data.note || none));
  const numeric = [0, 1, 3, 4, 5, 6, 7];
  const rows = slots.map((s, i) =>
    row(
      [
        i + 1,
        el("span", { class: "slot", text: s.slot_id }),
        s.node,
        count(s.key_count),
        cpuRate(s.cpu_usec_per_sec),
        byteRate(sum(s.network_bytes_in_per_sec, s.network_bytes_out_per_sec)),
        percent(s.share_of_node),
        percent(s.share_of_cluster),
      ],
      numeric,
      { "data-slot": s.slot_id },
    ),
  );
  const head = ["#", "slot", "node", "keys", "CPU", "network", "of node", "of cluster"];
  const some = slots.length === 1 ? "1 slot has" : `${slots.length} slots have`;
  const leftOut = slots.length < answer.data.slots.length ? message(`Only ${some} any ${label}.`) : null;
  fill("hot", table(head, rows, numeric), leftOut, answer.data.note ? message(answer.data.note) : null);
}

function sum(a, b) {
  return a === null || b === null || a === undefined || b === undefined ? null : a + b;
}

/** Each primary's share of slots, keys, CPU and network, and the imbalance figures. */
export function renderBalance(answer) {
  if (!answer.ok) return fill("balance", failure(answer));
  const { primaries, imbalance } = answer.data;
  const rows = primaries.map((p) =>
    row(
      [
        el("div", { class: "who" }, el("span", { text: p.node }), upBadge(p.up)),
        shareBar(p.slots / SLOT_COUNT, percent(p.slots / SLOT_COUNT), `${count(p.slots)} slots`),
        shareBar(p.keys_share, percent(p.keys_share), `${count(p.keys)} keys`),
        shareBar(p.cpu_share, percent(p.cpu_share), cpuRate(p.cpu_usec_per_sec)),
        shareBar(p.network_share, percent(p.network_share), byteRate(p.network_bytes_per_sec)),
      ],
      [],
      { "data-node": p.node },
    ),
  );
  const figures = Object.keys(MEASURES).map((m) =>
    el(
      "div",
      {},
      el("dt", { text: `${MEASURES[m].label} max/mean` }),
      el("dd", { text: `${ratio(imbalance[m].max_over_mean)} (Gini ${fixed(imbalance[m].gini)})` }),
    ),
  );
  fill(
    "balance",
    table(["primary", "slots", "keys", "CPU", "network"], rows),
    el("dl", { class: "facts imbalance" }, figures),
    answer.data.note ? message(answer.data.note) : null,
  );
}

function fixed(x) {
  return typeof x === "number" ? x.toFixed(2) : UNKNOWN;
}

/** Every node the exporter asked: state, role, slots, answer time, version, error. */
export function renderNodes(answer) {
  if (!answer.ok) return fill("nodes", failure(answer));
  const numeric = [3, 4];
  const rows = answer.data.nodes.map((n) =>
    row(
      [
        n.node,
        upBadge(n.up),
        n.role,
        count(n.slots),
        millis(n.answer_ms),
        [n.server, n.version].filter(Boolean).join(" ") || UNKNOWN,
        slotStats(n.slot_stats_enabled),
        n.error ? el("span", { class: "error", text: failureText(n) }) : "",
      ],
      numeric,
      { "data-node": n.node, "data-up": String(n.up), class: n.up ? null : "is-down" },
    ),
  );
  fill("nodes", table(["node", "state", "role", "slots", "answer", "server", "slot stats", "error"], rows, numeric));
}

function slotStats(enabled) {
  if (enabled === null || enabled === undefined) return UNKNOWN;
  return enabled ? "on" : "off (keys only)";
}

/** The failure's kind, and its sentence when that says more. */
function failureText(node) {
  return node.detail && node.detail !== node.error ? `${node.error}: ${node.detail}` : node.error;
}

/** The suggested moves for the chosen measure, the predicted effect, and the commands. */
export function renderPlan(answer, measure) {
  if (!answer.ok) return fill("plan", failure(answer));
  const d = answer.data;
  const load = MEASURES[measure].format;
  const moves = `${d.moves.length} move${d.moves.length === 1 ? "" : "s"}`;
  const summary = el(
    "p",
    { class: "summary" },
    `Max over mean of ${MEASURES[measure].label}: ${ratio(d.before.max_over_mean)} now, `,
    `${ratio(d.after.max_over_mean)} after ${moves} (${count(d.keys_to_migrate)} keys to migrate; `,
    `stopped: ${d.stop_reason.replaceAll("_", " ")}).`,
  );
  if (d.moves.length === 0) return fill("plan", summary, d.note ? message(d.note) : null);
  const numeric = [0, 3, 4];
  const rows = d.moves.map((m) =>
    row([m.slot_id, m.from.node, m.to.node, count(m.keys), load(m.load)], numeric, { "data-slot": m.slot_id }),
  );
  const commands = el(
    "details",
    {},
    el("summary", { text: `Commands (${d.commands_kind.replaceAll("_", " ")}, ${d.commands.length} lines)` }),
    el("pre", { text: d.commands.join("\n") }),
  );
  const head = ["slot", "from", "to", "keys", MEASURES[measure].label];
  fill("plan", summary, table(head, rows, numeric), commands, d.note ? message(d.note) : null);
}

/**
 * Slot moves: those under way (open slots, then jobs), then the latest finished jobs,
 * each under a line saying which; `moves` is what app.js made of the migrations and
 * nodes answers (see moves.js). Three columns, so that it fits beside the map: what
 * moves and how, from where to where, and its state, age and the server's message.
 */
export function renderMoves(moves) {
  if (!moves.answer.ok) return fill("moves", failure(moves.answer));
  const { active, recent, older } = moves.rows;
  const under = active.length === 1 ? "1 move under way." : `${active.length} moves under way.`;
  const summary = el("p", { class: "moves-summary", text: active.length === 0 ? "No slot is moving." : under });
  const group = (text) => el("tr", { class: "group" }, el("th", { colspan: 3, scope: "rowgroup", text }));
  const rows = [
    active.length > 0 && recent.length > 0 ? group("under way") : null,
    active.map(moveRow),
    recent.length > 0 ? group("recently finished") : null,
    recent.map(moveRow),
  ];
  const head = ["move", "from → to", "state"];
  const more = older > 0 ? message(`${older} older finished job${older === 1 ? "" : "s"}: see the JSON.`) : null;
  const notes = moves.notes.length > 0 ? el("div", { class: "notes" }, moves.notes.map((n) => message(n))) : null;
  fill("moves", summary, active.length + recent.length > 0 ? table(head, rows.flat()) : null, more, notes);
}

/** One move: its slots and kind; its ends; its state, age and message. */
function moveRow(r) {
  const attrs = {
    class: r.active ? "active" : "finished",
    "data-kind": r.kind,
    "data-active": String(r.active),
    "data-slot": r.ranges[0][0],
    "data-slots": r.ranges.map(([a, b]) => `${a}-${b}`).join(","),
  };
  const what = el("td", {}, el("span", { class: "slot", text: slotsText(r.ranges) }), sub("kind", KIND[r.kind]));
  const from = el("span", { class: "from", text: r.from });
  const ends = el("td", {}, from, " → ", el("span", { class: "to", text: r.to }));
  const state = el(
    "td",
    { class: "state-cell" },
    el("span", { class: r.failed ? "state failed" : "state", text: r.state }),
    sub("when", r.when, r.kind === "open" ? OPEN_AGE : null),
    r.message ? sub(r.failed ? "message failed" : "message", r.message) : null,
  );
  return el("tr", attrs, what, ends, state);
}

/** A second line in a cell, smaller. */
function sub(kind, text, title = null) {
  return el("span", { class: `sub ${kind}`, text, title });
}
