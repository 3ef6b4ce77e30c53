// Parse Mermaid graphs with the real mermaid parser (mermaid@11 on jsdom), without a browser.
// Usage: node check-mermaid.mjs < graphs.json, where graphs.json is a JSON array of diagram sources. Prints one JSON
// array with, per graph, {"ok": true, "type": "<diagram type>"} or {"ok": false, "error": "<parser message>"}.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

const results = [];
for (const source of JSON.parse(readFileSync(0, "utf-8"))) {
  try {
    const parsed = await mermaid.parse(source);
    results.push({ ok: true, type: parsed.diagramType });
  } catch (error) {
    results.push({ ok: false, error: String(error.message ?? error) });
  }
}
process.stdout.write(JSON.stringify(results) + "\n");
process.exit(0);
