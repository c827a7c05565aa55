#!/usr/bin/env node
// `pnpm bench [--json] [--quick]`: builds the packages, then runs every package's
// `bench` script in turn. Each benchmark prints one JSON object per line on stdout.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const build = spawnSync(
  join(root, "node_modules", ".bin", "turbo"),
  ["run", "build", "--output-logs=errors-only"],
  {
    cwd: root,
    stdio: ["ignore", 2, 2],
  },
);
if (build.status !== 0) process.exit(build.status ?? 1);
let failed = 0;
for (const group of ["packages", "apps"]) {
  for (const name of readdirSync(join(root, group))) {
    const dir = join(root, group, name);
    const pkgFile = join(dir, "package.json");
    if (!existsSync(pkgFile)) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, "utf8"));
    if (!pkg.scripts?.bench) continue;
    process.stderr.write(`# bench ${pkg.name}\n`);
    const r = spawnSync("pnpm", ["-s", "run", "bench", ...args], { cwd: dir, stdio: "inherit" });
    if (r.status !== 0) failed++;
  }
}
process.exit(failed ? 1 : 0);
