// Loads the page's DOM-free ES modules under node. The page's files are plain `.js`
// ES modules with no package.json (the exporter embeds them; nothing else reads them),
// and node before 22 reads a bare `.js` as CommonJS: so they are copied, unchanged,
// into a temp dir that declares `"type": "module"`, relative imports and all.

import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const PAGE = fileURLToPath(new URL("../../src/render/page/", import.meta.url));
/** The modules that need no document: what node can run. */
const DOM_FREE = ["format.js", "constants.js", "moves.js"];

const dir = mkdtempSync(join(tmpdir(), "page-js-"));
writeFileSync(join(dir, "package.json"), '{"type": "module"}\n');
for (const file of DOM_FREE) copyFileSync(join(PAGE, file), join(dir, file));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));

/** The page's module `file` (one of DOM_FREE), imported. */
export function load(file) {
  if (!DOM_FREE.includes(file)) throw new Error(`${file} is not among the DOM-free modules ${DOM_FREE}`);
  return import(pathToFileURL(join(dir, file)).href);
}
