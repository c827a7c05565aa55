// Grid throughput (run after `pnpm build`): synthetic cells (steps × sleep, checkpointed — the
// grid's own costs, not training) on 1, 2 and 4 worker processes, local mode and, where
// `redis-server` is installed, queue mode (BullMQ on a private redis-server on a free loopback
// port); then the overhead per job: empty cells (1 step, 0 ms) on one process.
// One JSON object per line: mode, workers, cells, cell_s (work per cell), wall_s, cells_per_min,
// overhead_ms_per_cell (wall × workers / cells − cell_s). Flags: --json (no header), --quick.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectionOptions, gridProgram, makePlan, runLocal, runQueue } from "../dist/index.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const jsonOnly = args.includes("--json");
const say = (o) => console.log(JSON.stringify(o));
if (!jsonOnly)
  console.error(
    "# grid throughput: synthetic cells; cells_per_min and the overhead per cell beyond its work",
  );

const CELLS = quick ? 8 : 16;
const STEPS = 4;
const SLEEP = 100;
const WORKERS = [1, 2, 4];

function plan(n, steps, sleepMs, seed) {
  // n cells: ncs × scratch × n runs
  return makePlan({
    kind: "synthetic",
    tasks: ["ncs"],
    inits: ["scratch"],
    runs: n,
    seed,
    budget: { quick: true, steps, sleepMs },
  });
}

async function freePort() {
  return new Promise((res) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

async function startRedis() {
  if (spawnSync("redis-server", ["--version"]).status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "grid-bench-redis-"));
  const port = await freePort();
  const password = "bench";
  writeFileSync(
    join(dir, "redis.conf"),
    `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsave ""\nappendonly no\nrequirepass ${password}\n`,
  );
  const proc = spawn("redis-server", [join(dir, "redis.conf")], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 300));
  return {
    url: `redis://127.0.0.1:${port}`,
    password,
    stop: () => {
      proc.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function startWorkers(redis, n, queueName, workRoot) {
  const cfg = JSON.stringify({
    url: redis.url,
    queueName,
    workRoot,
    dataRoots: [tmpdir()], // synthetic cells read nothing; a worker needs an existing root
    lockDuration: 5000,
    stalledInterval: 5000,
  });
  const procs = [];
  const ready = [];
  for (let k = 0; k < n; k++) {
    const p = spawn(process.execPath, [gridProgram("worker-main"), cfg], {
      env: { ...process.env, GENESIS_REDIS_PASSWORD: redis.password },
      stdio: ["ignore", "ignore", "pipe"],
    });
    ready.push(new Promise((res) => p.stderr.on("data", (d) => String(d).includes("ready on") && res())));
    procs.push(p);
  }
  return { procs, ready: Promise.all(ready) };
}

async function measure(mode, workers, cells, cellS, run) {
  const t0 = performance.now();
  await run();
  const wall = (performance.now() - t0) / 1000;
  say({
    mode,
    workers,
    cells,
    cell_s: cellS,
    wall_s: +wall.toFixed(3),
    cells_per_min: +((cells / wall) * 60).toFixed(1),
    overhead_ms_per_cell: +(((wall * workers) / cells - cellS) * 1000).toFixed(1),
  });
}

const cellS = (STEPS * SLEEP) / 1000;
let seed = 0;
for (const w of WORKERS) {
  const out = mkdtempSync(join(tmpdir(), "grid-bench-"));
  const p = plan(CELLS, STEPS, SLEEP, seed++);
  await measure("local", w, CELLS, cellS, () => runLocal(out, p.cells, { workers: w }));
  rmSync(out, { recursive: true, force: true });
}
const empty = quick ? 20 : 50;
{
  const out = mkdtempSync(join(tmpdir(), "grid-bench-"));
  await measure("local-empty", 1, empty, 0, () =>
    runLocal(out, plan(empty, 1, 0, seed++).cells, { workers: 1 }),
  );
  rmSync(out, { recursive: true, force: true });
}
const redis = await startRedis();
if (!redis) {
  if (!jsonOnly) console.error("# queue mode skipped: redis-server is not installed");
} else {
  const connection = connectionOptions(redis.url, { GENESIS_REDIS_PASSWORD: redis.password });
  const cases = [
    ...WORKERS.map((w) => ({ w, n: CELLS, steps: STEPS, sleep: SLEEP, mode: "queue" })),
    { w: 1, n: empty, steps: 1, sleep: 0, mode: "queue-empty" },
  ];
  for (const c of cases) {
    const out = mkdtempSync(join(tmpdir(), "grid-bench-"));
    const q = `bench-${seed}`;
    const ws = startWorkers(redis, c.w, q, join(out, "work"));
    await ws.ready; // worker start-up is not part of the queue's cost
    const p = plan(c.n, c.steps, c.sleep, seed++);
    await measure(c.mode, c.w, c.n, c.mode === "queue" ? cellS : 0, () =>
      runQueue(out, p.cells, { connection, queueName: q, pollMs: 50 }),
    );
    for (const pr of ws.procs) pr.kill("SIGKILL");
    rmSync(out, { recursive: true, force: true });
  }
  redis.stop();
}
