// Numbers as people read them: three significant digits and a unit, "–" for unknown.
// The API gives CPU in µs of CPU per second, network in bytes per second, keys as
// plain counts, and shares as fractions of 1.

export const UNKNOWN = "–";

/** Three significant digits, no trailing noise: 1.23, 12.3, 123, 1234. */
function digits(value) {
  // Decide on the rounded value, so 9.997 reads "10.0", not "10.00".
  const magnitude = Math.abs(Number(value.toPrecision(3)));
  if (magnitude >= 100 || magnitude === 0) return Math.round(value).toLocaleString("en-US");
  if (magnitude >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** `value` in the largest unit it reaches at least 1 of; `units` smallest first. */
function scaled(value, units) {
  // Choose the unit after rounding, so 999.7 B/s reads "1.00 kB/s", not "1,000 B/s".
  const rounded = Math.abs(Number(value.toPrecision(3)));
  let index = 0;
  while (index < units.length - 1 && rounded >= units[index + 1][0]) index++;
  const [divisor, name] = units[index];
  return `${digits(value / divisor)} ${name}`;
}

const CPU_UNITS = [[1, "µs/s"], [1e3, "ms/s"], [1e6, "s/s"]];
const BYTE_RATE_UNITS = [[1, "B/s"], [1e3, "kB/s"], [1e6, "MB/s"], [1e9, "GB/s"]];

/** CPU time per second, from µs/s: "850 µs/s", "1.20 ms/s" (1 s/s is a whole core). */
export function cpuRate(usecPerSec) {
  return known(usecPerSec) ? scaled(usecPerSec, CPU_UNITS) : UNKNOWN;
}

/** Bytes per second, decimal units: "3.40 MB/s". */
export function byteRate(bytesPerSec) {
  return known(bytesPerSec) ? scaled(bytesPerSec, BYTE_RATE_UNITS) : UNKNOWN;
}

/** A count with thousands separators: "12,345". */
export function count(n) {
  return known(n) ? Math.round(n).toLocaleString("en-US") : UNKNOWN;
}

/** A count shortened for legends: "980", "12.3 k", "4.50 M". */
export function shortCount(n) {
  if (!known(n)) return UNKNOWN;
  // Decide on the rounded value, so 999.7 reads "1.00 k", not "1,000".
  if (Math.abs(Number(n.toPrecision(3))) < 1000) return Number.isInteger(n) ? String(n) : digits(n);
  return scaled(n, [[1, ""], [1e3, "k"], [1e6, "M"], [1e9, "G"]]);
}

/** A fraction of 1 as a percentage: "34.5 %". */
export function percent(share) {
  return known(share) ? `${digits(share * 100)} %` : UNKNOWN;
}

/** Milliseconds: "0.84 ms", "12.0 ms", "1.50 s". */
export function millis(ms) {
  if (!known(ms)) return UNKNOWN;
  // Decide on the rounded value, so 999.7 ms reads "1.00 s", not "1,000 ms".
  return Math.abs(Number(ms.toPrecision(3))) >= 1000 ? `${digits(ms / 1000)} s` : `${digits(ms)} ms`;
}

/** A ratio such as max over mean: "1.42×". */
export function ratio(x) {
  return known(x) ? `${x.toFixed(2)}×` : UNKNOWN;
}

/** An age or duration in seconds: "4 s", "2 min 5 s", "3 h 10 min". */
export function duration(seconds) {
  if (!known(seconds)) return UNKNOWN;
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function known(value) {
  return typeof value === "number" && Number.isFinite(value);
}
