// Parse Mermaid graphs with the real mermaid parser (mermaid@11 on jsdom), without a browser.
// Usage: node check-mermaid.mjs, then one JSON array of diagram sources per line on stdin. For each line it prints one
// line: a JSON array with, per graph, {"ok": true, "type": "<diagram type>"} or {"ok": false, "error": "<message>"}.
// It exits at the end of stdin, so one process (and one load of mermaid and jsdom) serves a whole test session.
import { createInterface } from "node:readline";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const results = [];
  for (const source of JSON.parse(line)) {
    try {
      const parsed = await mermaid.parse(source);
      results.push({ ok: true, type: parsed.diagramType });
    } catch (error) {
      results.push({ ok: false, error: String(error.message ?? error) });
    }
  }
  process.stdout.write(JSON.stringify(results) + "\n");
}
process.exit(0);
