// The numbers and names the page's modules share, each said once. The slot-map API
// answer carries `slot_count` too; the map is drawn before the first answer arrives,
// so the page knows its own copy.

import { byteRate, count, cpuRate, shortCount } from "./format.js";

/** Hash slots in a Valkey cluster: fixed by the cluster protocol. */
export const SLOT_COUNT = 16384;

/** The map is a square of SIDE × SIDE cells, one per slot: slot = row × SIDE + column. */
export const SIDE = Math.sqrt(SLOT_COUNT);

/** How many of the hottest slots the page asks for and lists. */
export const HOT_LIMIT = 20;

/**
 * The three measures the page switches between, in the order the tooltip lists them:
 * label, how to print one value, how to print a legend's end, and whether it is a
 * rate (a rate needs two snapshots; a key count does not).
 */
export const MEASURES = {
  keys: { label: "keys", format: count, short: shortCount, rate: false },
  cpu: { label: "CPU", format: cpuRate, short: cpuRate, rate: true },
  network: { label: "network", format: byteRate, short: byteRate, rate: true },
};
