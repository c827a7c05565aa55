import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planCubes } from "../src/cubes-jobs.js";
import { contentId } from "../src/ids.js";
import { gridProgram, runLocal } from "../src/local.js";
import { makePlan } from "../src/plan.js";
import { openQueue, runQueue } from "../src/queue.js";
import { checkConnection, connectionOptions } from "../src/redis.js";
import { buildReport } from "../src/report.js";
import { pending, readResults } from "../src/results.js";
import { killMidCell } from "./kill-helper.js";
import { redisSkipReason, startRedis, type TestRedis } from "./redis-server.js";

const skip = redisSkipReason();

describe.skipIf(skip !== undefined)(
  `queue mode on a real redis-server${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    let redis: TestRedis;
    const root = mkdtempSync(join(tmpdir(), "grid-queue-"));
    const dataRoot = join(root, "data");
    mkdirSync(join(dataRoot, "lidc"), { recursive: true });
    const workers: Array<{ proc: ChildProcess; log: string[] }> = [];

    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      for (const w of workers) if (w.proc.exitCode === null) w.proc.kill("SIGKILL");
      await redis?.stop();
    });

    const env = () => ({ ...process.env, GENESIS_REDIS_PASSWORD: redis.password });

    /** A queue worker process (dist/worker-main.js), short locks so a killed one is noticed within ~2 s. */
    function startWorker(
      queueName: string,
      workRoot: string,
      extraEnv: NodeJS.ProcessEnv = {},
      roots = [dataRoot],
    ) {
      const cfg = {
        url: redis.url,
        queueName,
        workRoot,
        dataRoots: roots,
        lockDuration: 1000,
        stalledInterval: 500,
      };
      const proc = spawn(process.execPath, [gridProgram("worker-main"), JSON.stringify(cfg)], {
        env: { ...env(), ...extraEnv },
        stdio: ["ignore", "ignore", "pipe"],
      });
      const w = { proc, log: [] as string[] };
      proc.stderr?.setEncoding("utf8").on("data", (d: string) => w.log.push(...d.trim().split("\n")));
      workers.push(w);
      return w;
    }

    it("refuses a wrong password and a missing one with a clear error, never printing the password", async () => {
      const wrong = connectionOptions(redis.url, { GENESIS_REDIS_PASSWORD: "not-the-password" });
      await expect(checkConnection(wrong)).rejects.toThrow(
        `redis://127.0.0.1:${redis.port} refused the credentials (WRONGPASS): check GENESIS_REDIS_USERNAME and GENESIS_REDIS_PASSWORD / GENESIS_REDIS_PASSWORD_FILE`,
      );
      await expect(checkConnection(connectionOptions(redis.url, {}))).rejects.toThrow(
        /requires a password \(NOAUTH\)/,
      );
      await expect(checkConnection(connectionOptions(redis.url, env()))).resolves.toBeUndefined();
      // a worker process started with the wrong password exits 1 with that line
      const w = startWorker("q-auth", join(root, "work-auth"), {
        GENESIS_REDIS_PASSWORD: "not-the-password",
      });
      const code = await new Promise((res) => w.proc.once("exit", res));
      expect(code).toBe(1);
      expect(w.log.join("\n")).toMatch(/refused the credentials \(WRONGPASS\)/);
      expect(w.log.join("\n")).not.toContain("not-the-password");
    });

    it("two worker processes, one SIGKILLed mid-cell: every cell completes exactly once; a restart queues nothing; same report as local mode", async () => {
      const out = join(root, "out");
      const workRoot = join(root, "work");
      const steps = 6;
      const plan = makePlan({
        kind: "synthetic",
        tasks: ["ncs", "lcs"],
        inits: ["scratch", "genesis"],
        runs: 3,
        seed: 3,
        budget: { quick: true, steps, sleepMs: 80 },
      });
      const a = startWorker("q-kill", workRoot);
      startWorker("q-kill", workRoot);
      const killedIn = killMidCell(workRoot, a.proc.pid!, steps, () => a.proc.kill("SIGKILL"));
      const { results, failures } = await runQueue(out, plan.cells, {
        connection: connectionOptions(redis.url, env()),
        queueName: "q-kill",
        pollMs: 100,
        timeoutMs: 90_000,
      });
      const killed = await killedIn;
      expect(failures).toEqual([]);
      expect(results.map((r) => r.id).sort()).toEqual(plan.cells.map((c) => c.id).sort());
      expect(results.every((r) => r.status === "done")).toBe(true);
      // the killed cell resumed from its checkpoint on the other worker; every other cell started once
      const starts = (id: string) =>
        readFileSync(join(workRoot, id, "events.log"), "utf8")
          .trim()
          .split("\n");
      const resumed = results.filter((r) => (r.resumedFromStep ?? 0) > 0);
      expect(resumed.map((r) => r.id)).toEqual([killed]);
      expect(starts(killed)).toHaveLength(2);
      for (const c of plan.cells) if (c.id !== killed) expect(starts(c.id)).toHaveLength(1);
      // BullMQ: each job completed once, none failed
      const q = openQueue("q-kill", connectionOptions(redis.url, env()));
      expect(await q.getJobCounts("completed", "failed", "wait", "active")).toEqual({
        completed: 12,
        failed: 0,
        wait: 0,
        active: 0,
      });
      // restart: nothing pending, and queuing the plan again adds no job (job id = cell id)
      expect(await pending(out, plan.cells)).toEqual([]);
      const again = await runQueue(join(root, "out-again"), plan.cells, {
        connection: connectionOptions(redis.url, env()),
        queueName: "q-kill",
        pollMs: 50,
        timeoutMs: 10_000,
      });
      expect(again.results).toHaveLength(12);
      expect(await q.getJobCounts("completed")).toEqual({ completed: 12 });
      expect(readdirSync(workRoot).flatMap((id) => starts(id))).toHaveLength(13);
      await q.close();
      // local mode on the same plan: the same report
      const outLocal = join(root, "out-local");
      await runLocal(outLocal, plan.cells, { workers: 2 });
      expect(buildReport(plan, await readResults(outLocal))).toEqual(
        buildReport(plan, await readResults(out)),
      );
    });

    it("a forged job with ../ paths, or outside the data roots, is rejected and reported; nothing is written for it", async () => {
      const w = startWorker("q-forged", join(root, "work-forged"));
      const q = openQueue("q-forged", connectionOptions(redis.url, env()));
      const cell = makePlan({
        kind: "synthetic",
        tasks: ["ncs"],
        inits: ["scratch"],
        runs: 1,
        budget: { quick: true, steps: 1, sleepMs: 0 },
      }).cells[0];
      const forge = (patch: Record<string, unknown>) => {
        const { id: _id, ...c } = { ...cell, ...patch };
        return { id: contentId(c), ...c };
      };
      const dotdot = forge({ data: `${dataRoot}/../../../etc` });
      const outside = forge({ weights: "/etc/shadow" });
      const planted = forge({ data: join(dataRoot, "lidc") });
      await q.add("cell", dotdot, { jobId: dotdot.id });
      await q.add("cell", outside, { jobId: outside.id });
      await q.add("cell", planted, { jobId: "not-its-id" });
      const deadline = Date.now() + 30_000;
      while ((await q.getJobCounts("failed")).failed < 3 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const failed = await q.getFailed();
      const reasons = Object.fromEntries(failed.map((j) => [j.id, j.failedReason]));
      expect(reasons[dotdot.id]).toBe(`rejected: data "${dataRoot}/../../../etc" contains a ../ segment`);
      expect(reasons[outside.id]).toMatch(/^rejected: weights "\/etc\/shadow" is outside the data roots/);
      expect(reasons["not-its-id"]).toMatch(/^rejected: job id not-its-id is not the cell's id/);
      expect(failed.every((j) => j.attemptsMade <= 1)).toBe(true); // not retried
      expect(w.log.filter((l) => l.includes("rejected job"))).toHaveLength(3);
      expect(() => readdirSync(join(root, "work-forged"))).toThrow(/ENOENT/);
      await q.close();
    });

    it("--retry-failed really reruns: a cell rejected once (wrong data root) is done after the worker restarts with the right root", async () => {
      const out = join(root, "out-retry");
      const workRoot = join(root, "work-retry");
      const rightRoot = join(root, "data-right");
      mkdirSync(join(rightRoot, "lidc"), { recursive: true });
      const plan = makePlan({
        kind: "synthetic",
        tasks: ["ncs"],
        inits: ["scratch"],
        runs: 1,
        data: { ncs: join(rightRoot, "lidc") },
        budget: { quick: true, steps: 1, sleepMs: 0 },
      });
      const o = {
        connection: connectionOptions(redis.url, env()),
        queueName: "q-retry",
        pollMs: 100,
        timeoutMs: 30_000,
      };
      const wrong = startWorker("q-retry", workRoot); // data root: dataRoot only
      const first = await runQueue(out, plan.cells, o);
      expect(first.failures).toHaveLength(1);
      expect(first.failures[0].reason).toMatch(
        /^rejected: data ".*data-right\/lidc" is outside the data roots/,
      );
      const gone = new Promise((r) => wrong.proc.once("exit", r));
      wrong.proc.kill("SIGTERM");
      expect(await gone).toBe(0);
      startWorker("q-retry", workRoot, {}, [rightRoot]);
      expect(await pending(out, plan.cells)).toHaveLength(0);
      const toRun = await pending(out, plan.cells, true);
      expect(toRun).toHaveLength(1);
      const again = await runQueue(out, toRun, o);
      expect(again.failures).toEqual([]);
      expect(again.results.map((r) => r.status)).toEqual(["done"]);
      expect([...(await readResults(out)).values()].map((r) => r.status)).toEqual(["done"]);
    });

    it("cubes jobs run on the queue too: the same shards as local mode", async () => {
      const chest = resolve(import.meta.dirname, "../../../apps/cli/sample/chest-ct");
      const options = {
        scale: 2,
        borderXY: 4,
        borderZ: 2,
        lungMax: 0.5,
        patchSize: [32, 32, 16] as [number, number, number],
      };
      const plan = await planCubes({ inputs: [chest], seed: 3, options });
      const workRoot = join(root, "work-cubes");
      startWorker("q-cubes", workRoot, {}, [chest]);
      const out = join(root, "out-cubes");
      const { results } = await runQueue(out, plan.cells, {
        connection: connectionOptions(redis.url, env()),
        queueName: "q-cubes",
        pollMs: 100,
        timeoutMs: 60_000,
      });
      expect(results.map((r) => r.status)).toEqual(["done", "done"]);
      const local = join(root, "out-cubes-local");
      await runLocal(local, plan.cells, { workers: 1 });
      for (const c of plan.cells)
        expect(
          readFileSync(join(workRoot, c.id, "cubes.npy")).equals(
            readFileSync(join(local, "work", c.id, "cubes.npy")),
          ),
        ).toBe(true);
    });

    it("a cell that blocks its thread longer than the lock runs once: cells run in a child process, the lock keeps being renewed", async () => {
      const workRoot = join(root, "work-block");
      // two workers: the idle one's stalled-job check would take the job over if the busy one's lock lapsed
      startWorker("q-block", workRoot);
      startWorker("q-block", workRoot);
      const plan = makePlan({
        kind: "synthetic",
        tasks: ["ncs"],
        inits: ["scratch"],
        runs: 1,
        seed: 9,
        budget: { quick: true, steps: 2, sleepMs: 0, blockMs: 2500 },
      });
      const { results } = await runQueue(join(root, "out-block"), plan.cells, {
        connection: connectionOptions(redis.url, env()),
        queueName: "q-block",
        pollMs: 100,
        timeoutMs: 60_000,
      });
      expect(results[0].status).toBe("done");
      // lock 1000 ms, blocked 2 × 2500 ms: had the worker's own thread been blocked, the job would have stalled and started again
      expect(
        readFileSync(join(workRoot, plan.cells[0].id, "events.log"), "utf8")
          .trim()
          .split("\n"),
      ).toHaveLength(1);
      const q = openQueue("q-block", connectionOptions(redis.url, env()));
      expect((await q.getJob(plan.cells[0].id))?.attemptsMade).toBe(1);
      await q.close();
    });
  },
);
