// format.js: every exported function, on units, rounding at unit and digit edges,
// unknown values (null, undefined, NaN, infinities, strings) and huge and tiny numbers.

import assert from "node:assert/strict";
import { test } from "node:test";
import { load } from "./load.mjs";

const format = await load("format.js");
const { UNKNOWN, byteRate, count, cpuRate, duration, millis, percent, ratio, shortCount } = format;

/** Every exported function named by a test below; checked against the module's exports. */
const tested = new Set(["UNKNOWN"]);
function cases(fn, pairs) {
  tested.add(fn.name);
  for (const [input, expected] of pairs) {
    assert.equal(fn(input), expected, `${fn.name}(${String(input)})`);
  }
}

/** Values the API sends for "not known", and values it never sends but must survive. */
const NOT_NUMBERS = [null, undefined, NaN, Infinity, -Infinity, "12", {}, []];

test("UNKNOWN is the en dash every function prints for an unknown value", () => {
  assert.equal(UNKNOWN, "–");
  for (const [name, fn] of Object.entries(format)) {
    if (typeof fn !== "function") continue;
    for (const value of NOT_NUMBERS) assert.equal(fn(value), UNKNOWN, `${name}(${String(value)})`);
  }
});

test("cpuRate: µs/s, ms/s, s/s with three significant digits", () => {
  cases(cpuRate, [
    [0, "0 µs/s"],
    [0.5, "0.50 µs/s"],
    [9.994, "9.99 µs/s"],
    // Rounded before choosing the digits: not "10.00".
    [9.997, "10.0 µs/s"],
    [99.96, "100 µs/s"],
    [850, "850 µs/s"],
    // Rounded before choosing the unit: not "1,000 µs/s".
    [999.7, "1.00 ms/s"],
    [1200, "1.20 ms/s"],
    [12345, "12.3 ms/s"],
    [2.5e6, "2.50 s/s"],
    // Past the largest unit: more digits, with separators.
    [1.5e9, "1,500 s/s"],
    // Tiny but not zero: two decimals, never exponent notation.
    [1e-7, "0.00 µs/s"],
    [Number.MIN_VALUE, "0.00 µs/s"],
  ]);
});

test("byteRate: decimal units up to GB/s", () => {
  cases(byteRate, [
    [0, "0 B/s"],
    [1, "1.00 B/s"],
    [999, "999 B/s"],
    [999.7, "1.00 kB/s"],
    [1000, "1.00 kB/s"],
    [3.4e6, "3.40 MB/s"],
    [999.6e6, "1.00 GB/s"],
    [1.234e12, "1,234 GB/s"],
  ]);
  // The largest double: all its digits, grouped, in the largest unit.
  assert.match(byteRate(Number.MAX_VALUE), /^\d{1,3}(,\d{3})+ GB\/s$/);
});

test("count: whole numbers with thousands separators", () => {
  cases(count, [
    [0, "0"],
    [7, "7"],
    [12345, "12,345"],
    [2.5, "3"],
    [2.4, "2"],
    [-1234, "-1,234"],
    [1e21, "1,000,000,000,000,000,000,000"],
    [1e-9, "0"],
  ]);
});

test("shortCount: plain below 1000, then k, M, G with three significant digits", () => {
  cases(shortCount, [
    [0, "0"],
    [980, "980"],
    [999, "999"],
    [0.5, "0.50"],
    [12.34, "12.3"],
    // Rounded before choosing the unit: not "1,000".
    [999.7, "1.00 k"],
    [1000, "1.00 k"],
    [1500, "1.50 k"],
    [12345, "12.3 k"],
    [999999, "1.00 M"],
    [4.5e6, "4.50 M"],
    [7.2e9, "7.20 G"],
    [3e12, "3,000 G"],
  ]);
});

test("percent: a fraction of 1 as a percentage", () => {
  cases(percent, [
    [0, "0 %"],
    [0.345, "34.5 %"],
    [1 / 3, "33.3 %"],
    [0.9999, "100 %"],
    [1, "100 %"],
    [2.5, "250 %"],
    [0.0001, "0.01 %"],
    [1e-9, "0.00 %"],
  ]);
});

test("millis: ms below a second, then seconds", () => {
  cases(millis, [
    [0, "0 ms"],
    [0.84, "0.84 ms"],
    [12, "12.0 ms"],
    [999, "999 ms"],
    // Rounded before choosing the unit: not "1,000 ms".
    [999.7, "1.00 s"],
    [1500, "1.50 s"],
    [65000, "65.0 s"],
    [3.6e9, "3,600,000 s"],
    [1e-6, "0.00 ms"],
  ]);
});

test("ratio: two decimals and a times sign", () => {
  cases(ratio, [
    [1, "1.00×"],
    [1.4237, "1.42×"],
    [1.125, "1.13×"],
    [0, "0.00×"],
    [12345.678, "12345.68×"],
    [1e-9, "0.00×"],
  ]);
});

test("duration: s, then min and s, then h and min; never negative", () => {
  cases(duration, [
    [0, "0 s"],
    [4.4, "4 s"],
    [59.4, "59 s"],
    [59.5, "1 min 0 s"],
    [125, "2 min 5 s"],
    [3599.4, "59 min 59 s"],
    [3599.6, "1 h 0 min"],
    [11400, "3 h 10 min"],
    [1e9, "277777 h 46 min"],
    [-5, "0 s"],
    [1e-9, "0 s"],
  ]);
});

// Last, after the tests above have named what they cover (node runs a file's tests in order).
test("every export of format.js has a test", () => {
  const untested = Object.keys(format).filter((name) => !tested.has(name));
  assert.deepEqual(untested, [], "every export of format.js has a test");
});
