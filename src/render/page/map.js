// The slot map on a canvas, SIDE × SIDE cells: slot = row × SIDE + column, one cell per slot,
// coloured on a log scale from the smallest non-zero value to the largest. Three
// looks never mix: a colour of the ramp (a value above 0), the "zero" colour, and a
// hatch for "no data" (its primary did not answer, no rate yet, or no owner) — a
// missing value is never drawn as 0. Lines between cells of different primaries show
// who owns which slots; an outline marks the slots being moved. All colours come from
// the stylesheet, so the map follows the light or dark theme.

import { SIDE, SLOT_COUNT } from "./constants.js";

/** The colour of anything the stylesheet gives no colour for. */
const GREY = [128, 128, 128];

/** The colours of the current theme, read from the stylesheet's custom properties. */
export function theme() {
  const style = getComputedStyle(document.documentElement);
  const list = (name) => (style.getPropertyValue(name).match(/#[0-9a-f]{6}/gi) || []).map(rgb);
  const one = (name) => list(name)[0] || GREY;
  return {
    ramp: list("--ramp"),
    zero: one("--map-zero"),
    noData: one("--map-nodata"),
    stripe: one("--map-nodata-stripe"),
    edge: one("--map-edge"),
    mark: one("--map-mark"),
    moving: one("--map-moving"),
    movingHalo: one("--map-moving-halo"),
    owners: list("--owner-colours"),
  };
}

function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function css([r, g, b]) {
  return `rgb(${r}, ${g}, ${b})`;
}

/** The ramp's colour at `t` in 0..1 (0: the smallest non-zero value, 1: the largest). */
export function rampColour(colours, t) {
  const position = Math.max(0, Math.min(1, t)) * (colours.length - 1);
  const i = Math.min(Math.floor(position), colours.length - 2);
  const f = position - i;
  return colours[i].map((c, k) => Math.round(c + (colours[i + 1][k] - c) * f));
}

/** Smallest non-zero and largest value: the ends of the log scale; null if none. */
export function scaleOf(values) {
  let lo = Infinity;
  let hi = 0;
  for (const v of values) {
    if (v !== null && v > 0) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  return hi > 0 ? { lo, hi } : null;
}

/** Where `value` sits on the log scale, 0..1; the largest value is exactly 1. */
function position(scale, value) {
  if (scale.hi <= scale.lo) return 1;
  return (Math.log(value) - Math.log(scale.lo)) / (Math.log(scale.hi) - Math.log(scale.lo));
}

/** The colour of one value, or null for "no data" (drawn as the hatch). */
function colourOf(colours, scale, value) {
  if (value === null || value === undefined) return null;
  if (value <= 0 || scale === null) return colours.zero;
  return rampColour(colours.ramp, position(scale, value));
}

/** Whether device pixel (x, y) is on a stripe of the "no data" hatch. */
function onStripe(x, y, cell) {
  const period = Math.max(4, Math.round(cell * 1.5));
  return (x + y) % period < Math.max(1, Math.round(period / 3));
}

/** Cell size in device pixels for the canvas's displayed width (at least 2). */
function cellSize(canvas) {
  const shown = canvas.clientWidth || 512;
  return Math.max(2, Math.ceil((shown * (window.devicePixelRatio || 1)) / SIDE));
}

/**
 * Draws the map. `owners[slot]` indexes `nodes` (or is null), `values[slot]` is a
 * number or null. A slot whose owner is down is drawn as "no data" whatever its value.
 * Returns the scale used, for the legend.
 */
export function drawMap(canvas, owners, values, nodes, colours) {
  const cell = cellSize(canvas);
  canvas.width = canvas.height = SIDE * cell;
  const ctx = canvas.getContext("2d");
  const scale = scaleOf(values);
  const image = ctx.createImageData(canvas.width, canvas.height);
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    const owner = owners[slot];
    const missing = owner === null || owner === undefined || !nodes[owner] || !nodes[owner].up;
    paintCell(image, slot, cell, missing ? null : colourOf(colours, scale, values[slot]), colours);
  }
  ctx.putImageData(image, 0, 0);
  drawOwnerEdges(ctx, owners, cell, colours.edge);
  return scale;
}

function paintCell(image, slot, cell, colour, colours) {
  const x0 = (slot % SIDE) * cell;
  const y0 = Math.floor(slot / SIDE) * cell;
  for (let y = y0; y < y0 + cell; y++) {
    for (let x = x0; x < x0 + cell; x++) {
      const c = colour || (onStripe(x, y, cell) ? colours.stripe : colours.noData);
      const i = (y * image.width + x) * 4;
      image.data[i] = c[0];
      image.data[i + 1] = c[1];
      image.data[i + 2] = c[2];
      image.data[i + 3] = 255;
    }
  }
}

/** A line on every cell edge between two different owners: each primary's territory. */
function drawOwnerEdges(ctx, owners, cell, edge) {
  const width = Math.max(1, Math.round(cell / 5));
  ctx.fillStyle = css(edge);
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    const col = slot % SIDE;
    const row = Math.floor(slot / SIDE);
    if (col < SIDE - 1 && owners[slot + 1] !== owners[slot]) {
      ctx.fillRect((col + 1) * cell - Math.ceil(width / 2), row * cell, width, cell);
    }
    if (row < SIDE - 1 && owners[slot + SIDE] !== owners[slot]) {
      ctx.fillRect(col * cell, (row + 1) * cell - Math.ceil(width / 2), cell, width);
    }
  }
}

/**
 * Outlines the slots in flight (`moving`: a Set or Map keyed by slot) as regions: a band
 * of the "moving" colour between two thin lines of the page's background, so it reads
 * on every colour of every measure, drawn just outside the cells so their own colour
 * stays visible, and around neighbouring slots as one shape (a range is one region,
 * not a grid). Drawn as squares grown around each cell, after which the cells
 * themselves are put back as `drawMap` left them.
 */
export function outlineMoving(canvas, moving, colours) {
  if (moving.size === 0) return;
  const cell = canvas.width / SIDE;
  const band = Math.max(1, Math.round(cell / 3));
  const ctx = canvas.getContext("2d");
  const drawn = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const grow = (by, colour) => {
    ctx.fillStyle = css(colour);
    for (const slot of moving.keys()) {
      ctx.fillRect((slot % SIDE) * cell - by, Math.floor(slot / SIDE) * cell - by, cell + 2 * by, cell + 2 * by);
    }
  };
  grow(band + 2, colours.movingHalo);
  grow(band + 1, colours.moving);
  grow(1, colours.movingHalo);
  // The cells back, one run of neighbouring slots in a row at a time.
  const slots = [...moving.keys()].sort((a, b) => a - b);
  for (let i = 0; i < slots.length; ) {
    let j = i;
    while (j + 1 < slots.length && slots[j + 1] === slots[j] + 1 && slots[j + 1] % SIDE !== 0) j++;
    const x = (slots[i] % SIDE) * cell;
    const y = Math.floor(slots[i] / SIDE) * cell;
    ctx.putImageData(drawn, 0, 0, x, y, (j - i + 1) * cell, cell);
    i = j + 1;
  }
}

/** A ring around one slot's cell, so that a slot named in a table can be found. */
export function markSlot(canvas, slot, colours) {
  const cell = canvas.width / SIDE;
  const ctx = canvas.getContext("2d");
  const pad = Math.max(3 * cell, 8);
  ctx.lineWidth = Math.max(2, Math.round(cell / 2));
  ctx.strokeStyle = css(colours.mark);
  ctx.strokeRect((slot % SIDE) * cell - pad, Math.floor(slot / SIDE) * cell - pad, cell + 2 * pad, cell + 2 * pad);
}

/** The legend: the ramp from the smallest non-zero value to the largest, and swatches. */
export function drawLegend(colours) {
  const ramp = document.getElementById("legend-ramp");
  const ctx = ramp.getContext("2d");
  for (let x = 0; x < ramp.width; x++) {
    ctx.fillStyle = css(rampColour(colours.ramp, x / (ramp.width - 1)));
    ctx.fillRect(x, 0, 1, ramp.height);
  }
  const zero = document.getElementById("legend-zero").getContext("2d");
  zero.fillStyle = css(colours.zero);
  zero.fillRect(0, 0, zero.canvas.width, zero.canvas.height);
  const noData = document.getElementById("legend-nodata");
  const image = noData.getContext("2d").createImageData(noData.width, noData.height);
  for (let i = 0; i < noData.width * noData.height; i++) {
    const c = onStripe(i % noData.width, Math.floor(i / noData.width), 6) ? colours.stripe : colours.noData;
    image.data.set([c[0], c[1], c[2], 255], i * 4);
  }
  noData.getContext("2d").putImageData(image, 0, 0);
  // The outline of a slot in flight, around a cell of the "zero" colour.
  const moving = document.getElementById("legend-moving").getContext("2d");
  const size = moving.canvas.width;
  const rings = [[0, colours.movingHalo], [1, colours.moving], [4, colours.movingHalo], [5, colours.zero]];
  for (const [inset, colour] of rings) {
    moving.fillStyle = css(colour);
    moving.fillRect(inset, inset, size - 2 * inset, size - 2 * inset);
  }
}

/** The slot under a pointer event on the map, or null outside it. */
export function slotAt(canvas, event) {
  const box = canvas.getBoundingClientRect();
  const col = Math.floor(((event.clientX - box.left) / box.width) * SIDE);
  const row = Math.floor(((event.clientY - box.top) / box.height) * SIDE);
  if (col < 0 || row < 0 || col >= SIDE || row >= SIDE) return null;
  return row * SIDE + col;
}

/** Each node's slots as ranges: `[[first, last], ...]` per index of `nodes`. */
export function rangesByOwner(owners, nodeCount) {
  const ranges = Array.from({ length: nodeCount }, () => []);
  let start = 0;
  for (let slot = 1; slot <= SLOT_COUNT; slot++) {
    if (slot === SLOT_COUNT || owners[slot] !== owners[start]) {
      const owner = owners[start];
      if (owner !== null && owner !== undefined && ranges[owner]) ranges[owner].push([start, slot - 1]);
      start = slot;
    }
  }
  return ranges;
}

/** The ownership strip: the slot space from first to last slot left to right, one colour per primary. */
export function drawStrip(canvas, owners, nodes, colours) {
  const width = canvas.clientWidth ? Math.round(canvas.clientWidth * (window.devicePixelRatio || 1)) : 512;
  canvas.width = width;
  const ctx = canvas.getContext("2d");
  for (let x = 0; x < width; x++) {
    const owner = owners[Math.floor((x * SLOT_COUNT) / width)];
    const node = owner === null || owner === undefined ? null : nodes[owner];
    ctx.fillStyle = node ? ownerColour(colours, owner) : css(colours.noData);
    ctx.fillRect(x, 0, 1, canvas.height);
  }
}

/** The categorical colour of the primary at `index`, as CSS. */
export function ownerColour(colours, index) {
  return css(colours.owners[index % colours.owners.length] || GREY);
}
