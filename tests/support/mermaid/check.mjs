// Parses every ```mermaid block of a Markdown file with Mermaid's own parser; exit 1 naming the
// first line of each block that does not parse. Used by tests/test_readme.py.
import fs from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
const { default: mermaid } = await import("mermaid");

const text = fs.readFileSync(process.argv[2], "utf8");
const blocks = [...text.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1]);
let failed = 0;
for (const block of blocks) {
  try {
    await mermaid.parse(block);
  } catch (error) {
    failed += 1;
    console.log(`diagram starting '${block.split("\n")[0]}': ${error.message ?? error}`);
  }
}
console.log(`${blocks.length} diagrams, ${failed} failed`);
process.exit(failed ? 1 : 0);
