#!/usr/bin/env node
// Reads the output of `pnpm test` (turbo running vitest in every package) on stdin and prints the
// totals as one closing line: "N passed, N failed" (", N skipped" when some were skipped).
import { readFileSync } from "node:fs";

// strip ANSI colour codes (ESC [ … m)
const text = readFileSync(0, "utf8").replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g"), "");
let passed = 0;
let failed = 0;
let skipped = 0;
for (const line of text.split("\n")) {
  const m = /^\S*:?\s*Tests\s+(.*)$/.exec(line.trim());
  if (!m || !/\(\d+\)\s*$/.test(m[1])) continue;
  passed += Number(/(\d+) passed/.exec(m[1])?.[1] ?? 0);
  failed += Number(/(\d+) failed/.exec(m[1])?.[1] ?? 0);
  skipped += Number(/(\d+) skipped/.exec(m[1])?.[1] ?? 0);
}
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}\n`);
