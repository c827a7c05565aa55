import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { redisSkipReason, startRedis, type TestRedis } from "../../../packages/grid/test/redis-server.js";
import { genesis } from "./run-cli.js";

const bin = resolve(import.meta.dirname, "../dist/bin.js");

describe("genesis grid plan | run | report (synthetic cells)", () => {
  it("plans, runs on 2 local processes in 2 static shards, reports; a rerun runs nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-grid-"));
    const plan = await genesis(
      "grid",
      "plan",
      "--out",
      dir,
      "--tasks",
      "ncs,lcs",
      "--init",
      "scratch,genesis",
      "--runs",
      "3",
      "--synthetic",
      "--steps",
      "2",
      "--sleep-ms",
      "5",
      "--seed",
      "4",
    );
    expect(plan.code).toBe(0);
    expect(plan.out).toBe(
      `${join(dir, "plan.json")}: 12 cells (ncs, lcs × scratch, genesis × 3 runs, grid seed 4)\n`,
    );
    const s0 = await genesis("grid", "run", dir, "--shard", "0/2", "--workers", "2", "--no-report");
    expect(s0.code).toBe(0);
    expect(s0.err).toContain("shard 0/2: 6 of 12 cells");
    expect(s0.err).toContain("ran 6 cells: 6 done, 0 failed");
    process.env.JOB_COMPLETION_INDEX = "1";
    const s1 = await genesis("grid", "run", dir, "--shard", "env/2", "--workers", "2");
    delete process.env.JOB_COMPLETION_INDEX;
    expect(s1.err).toContain("ran 6 cells: 6 done, 0 failed");
    expect(existsSync(join(dir, "report.png"))).toBe(true);
    const again = await genesis("grid", "run", dir, "--workers", "2");
    expect(again.err).toContain("12 of 12 cells already have results; 0 to run");
    const rep = await genesis("grid", "report", dir, "--json");
    const r = JSON.parse(rep.out);
    expect(r.cells).toEqual({ planned: 12, done: 12, failed: 0, notRun: 0 });
    expect(r.synthetic).toBe(true);
    const md = await genesis("grid", "report", dir);
    expect(md.out).toContain("| genesis | 3/3 | 0 |");
    expect(readFileSync(join(dir, "report.md"), "utf8")).toBe(md.out);
  });

  it("refuses credentials in --queue and bad shards with one line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-grid-bad-"));
    await genesis(
      "grid",
      "plan",
      "--out",
      dir,
      "--tasks",
      "ncs",
      "--init",
      "scratch",
      "--runs",
      "1",
      "--synthetic",
    );
    const q = await genesis("grid", "run", dir, "--queue", "redis://u:sekret@127.0.0.1:1");
    expect(q.code).toBe(1);
    expect(q.err).toMatch(/^genesis: --queue redis:\/\/127\.0\.0\.1:1: credentials in the URL are refused/);
    expect(q.err).not.toContain("sekret");
    const s = await genesis("grid", "run", dir, "--shard", "2/2");
    expect(s.err).toBe("genesis: --shard 2/2: expected i/N with 0 ≤ i < N\n");
    const w = await genesis("worker", "--queue", "redis://127.0.0.1:1", "--work", dir, "--concurrency", "0");
    expect(w.err).toMatch(/--concurrency: "0" is not a positive integer/);
    // a worker without a data root, or with one that does not exist, would reject every job: refused at start
    const none = await genesis("worker", "--queue", "redis://127.0.0.1:1", "--work", dir);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/^genesis: a data root is needed: pass --data-root DIR/);
    const gone = join(dir, "no-such-root");
    const missing = await genesis(
      "worker",
      "--queue",
      "redis://127.0.0.1:1",
      "--work",
      dir,
      "--data-root",
      gone,
    );
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(`genesis: --data-root ${gone}: no such folder\n`);
  });

  it("exits 1 when cells failed and says how many; a rerun names them; --retry-failed reruns them; nothing to run needs no queue", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-grid-failed-"));
    const data = join(dir, "lidc");
    const p = await genesis(
      "grid",
      "plan",
      "--out",
      dir,
      "--tasks",
      "ncs",
      "--init",
      "scratch",
      "--runs",
      "2",
      "--synthetic",
      "--steps",
      "1",
      "--sleep-ms",
      "0",
      "--data",
      data,
    );
    expect(p.code).toBe(0);
    const first = await genesis("grid", "run", dir);
    expect(first.code).toBe(1);
    expect(first.err).toContain("ran 2 cells: 0 done, 2 failed");
    expect(first.err).toContain(
      "genesis: 2 of 2 cells failed (errors: report.md, results/; rerun them with --retry-failed)\n",
    );
    const again = await genesis("grid", "run", dir, "--no-report");
    expect(again.code).toBe(1);
    expect(again.err).toContain(
      "2 of 2 cells already have results, 2 failed (rerun them with --retry-failed); 0 to run",
    );
    mkdirSync(data);
    const retry = await genesis("grid", "run", dir, "--retry-failed");
    expect(retry.code).toBe(0);
    expect(retry.err).toContain("0 of 2 cells already have results; 2 to run");
    expect(retry.err).toContain("ran 2 cells: 2 done, 0 failed");
    // every cell has a result: --queue is not connected to (nothing listens on port 1)
    const q = await genesis("grid", "run", dir, "--queue", "redis://127.0.0.1:1");
    expect(q.err).toContain("2 of 2 cells already have results; 0 to run");
    expect(q.code).toBe(0);
  });
});

describe("genesis grid cubes (a job per scan)", () => {
  it("two static shards write the cube shards; the manifest is complete after the second", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-grid-cubes-"));
    const chest = resolve(import.meta.dirname, "../sample/chest-ct");
    const args = [
      "grid",
      "cubes",
      chest,
      "--out",
      dir,
      "--scale",
      "2",
      "--border-xy",
      "4",
      "--border-z",
      "2",
      "--lung-max",
      "0.5",
      "--patch-size",
      "32x32x16",
    ];
    const a = await genesis(...args, "--shard", "0/2");
    expect(a.code).toBe(0);
    expect(a.err).toMatch(/manifest\.json: \d+ cubes in 1 shards; 1 scans not done yet \(other shards\)/);
    const b = await genesis(...args, "--shard", "1/2");
    expect(b.code).toBe(0);
    const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    expect(m.shards).toHaveLength(2);
    expect(m.options.patchSize).toEqual([32, 32, 16]);
    expect(m.cubes).toBe(m.shards[0].cubes + m.shards[1].cubes);
    expect(m.cubes).toBeGreaterThan(0);
    for (const s of m.shards) expect(existsSync(join(dir, s.file))).toBe(true);
    const bad = await genesis("grid", "cubes", chest, "--out", dir, "--patch-size", "64x64");
    expect(bad.err).toBe('genesis: --patch-size "64x64": expected XxYxZ voxels, e.g. 64x64x32\n');
  });
});

const skip = redisSkipReason();
describe.skipIf(skip !== undefined)(
  `genesis grid run --queue with genesis worker${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    let redis: TestRedis | undefined;
    afterAll(async () => {
      await redis?.stop();
    });

    it("a worker command with 2 processes serves the queue; the report equals the local one", async () => {
      redis = await startRedis();
      const dir = mkdtempSync(join(tmpdir(), "cli-grid-q-"));
      const local = mkdtempSync(join(tmpdir(), "cli-grid-l-"));
      const planArgs = [
        "--tasks",
        "ncs",
        "--init",
        "scratch,genesis",
        "--runs",
        "3",
        "--synthetic",
        "--steps",
        "2",
        "--sleep-ms",
        "5",
      ];
      await genesis("grid", "plan", "--out", dir, ...planArgs);
      await genesis("grid", "plan", "--out", local, ...planArgs);
      const env = { ...process.env, GENESIS_REDIS_PASSWORD: redis.password };
      const worker = spawn(
        process.execPath,
        [
          bin,
          "worker",
          "--queue",
          redis.url,
          "--work",
          join(dir, "work"),
          "--concurrency",
          "2",
          "--data-root",
          dir,
          "--lock-ms",
          "2000",
        ],
        { env, stdio: ["ignore", "ignore", "pipe"] },
      );
      let wlog = "";
      worker.stderr.setEncoding("utf8").on("data", (d: string) => {
        wlog += d;
      });
      process.env.GENESIS_REDIS_PASSWORD = redis.password;
      try {
        const run = await genesis("grid", "run", dir, "--queue", redis.url);
        expect(run.code).toBe(0);
        expect(run.err).toContain("ran 6 cells: 6 done, 0 failed");
        expect(run.err + wlog).not.toContain(redis.password);
      } finally {
        delete process.env.GENESIS_REDIS_PASSWORD;
        const gone = new Promise((r) => worker.once("exit", r));
        worker.kill("SIGTERM");
        expect(await gone).toBe(0);
      }
      expect(wlog).toMatch(
        /genesis worker: 2 process\(es\) on redis:\/\/127\.0\.0\.1:\d+ queue genesis-grid/,
      );
      await genesis("grid", "run", local, "--workers", "2");
      const a = JSON.parse((await genesis("grid", "report", dir, "--json")).out);
      const b = JSON.parse((await genesis("grid", "report", local, "--json")).out);
      expect(a).toEqual(b);
    });
  },
);
