// constants.js: the numbers the page's modules share agree with each other and with
// the API, and every measure the page switches between can be printed.

import assert from "node:assert/strict";
import { test } from "node:test";
import { load } from "./load.mjs";

const { HOT_LIMIT, MEASURES, SIDE, SLOT_COUNT } = await load("constants.js");

test("the map's square holds exactly the cluster's slots", () => {
  assert.equal(SLOT_COUNT, 16384);
  assert.ok(Number.isInteger(SIDE));
  assert.equal(SIDE * SIDE, SLOT_COUNT);
});

test("the hot-list size is one the API accepts (limit 1..16384)", () => {
  assert.ok(Number.isInteger(HOT_LIMIT) && HOT_LIMIT >= 1 && HOT_LIMIT <= SLOT_COUNT);
});

test("the measures are the slot map's, in tooltip order, each printable", () => {
  assert.deepEqual(Object.keys(MEASURES), ["keys", "cpu", "network"]);
  for (const [name, m] of Object.entries(MEASURES)) {
    assert.equal(typeof m.label, "string", name);
    assert.equal(m.rate, name !== "keys", name);
    assert.notEqual(m.format(1234), "–", name);
    assert.notEqual(m.short(1234), "–", name);
    assert.equal(m.format(null), "–", name);
  }
  assert.equal(MEASURES.keys.format(1234), "1,234");
  assert.equal(MEASURES.cpu.format(1234), "1.23 ms/s");
  assert.equal(MEASURES.network.short(1234), "1.23 kB/s");
});
