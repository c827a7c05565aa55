#!/usr/bin/env node
// Runs the `genesis` CLI from the repository root: builds the CLI and the packages it uses
// (turbo; cached, so a no-op when nothing changed), then runs apps/cli/dist/bin.js with the
// given arguments. Build output goes to stderr so that `pnpm -s genesis info --json` prints
// only JSON on stdout.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// Ctrl-C reaches the whole process group: the CLI handles it (writes a checkpoint, then exits), so this
// wrapper must not die first and hand the terminal back while the checkpoint is being written
process.on("SIGINT", () => {});
process.on("SIGTERM", () => {});
const turbo = join(root, "node_modules", ".bin", "turbo");
// the first run builds every package (about a minute): say so, rather than sit silent
const built = existsSync(join(root, "apps", "cli", "dist", "bin.js"));
if (!built) process.stderr.write("genesis: building the packages and the CLI (first run, about a minute)…\n");
const build = spawnSync(
  turbo,
  ["run", "build", "--filter=@models-genesis/cli...", "--output-logs=errors-only", "--log-order=grouped"],
  {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" },
  },
);
if (build.status !== 0) {
  process.stderr.write(`${build.stdout ?? ""}${build.stderr ?? ""}`);
  process.stderr.write("genesis: building the CLI failed (see the output above)\n");
  process.exit(build.status ?? 1);
}
// `pnpm demo -- --flag` and `pnpm genesis -- info …` hand a literal `--` through: drop it
const args = process.argv.slice(2);
const sep = args.indexOf("--");
if (sep >= 0 && sep <= 1) args.splice(sep, 1);
const run = spawnSync(process.execPath, [join(root, "apps", "cli", "dist", "bin.js"), ...args], {
  stdio: "inherit",
});
process.exit(run.status ?? (run.signal ? 128 + constants.signals[run.signal] : 1));
