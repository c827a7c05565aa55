#!/usr/bin/env node
import { main } from "./index.js";

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // main() already reports errors; this is the last line of defence.
    process.stderr.write(`genesis: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
