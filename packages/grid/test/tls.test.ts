import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gridProgram } from "../src/local.js";
import { makePlan } from "../src/plan.js";
import { runQueue } from "../src/queue.js";
import { checkConnection, connectionOptions } from "../src/redis.js";
import { redisSkipReason, startRedis, type TestRedis, tlsSkipReason } from "./redis-server.js";

const skip = redisSkipReason() ?? tlsSkipReason();

describe.skipIf(skip !== undefined)(
  `rediss:// (TLS) on a real redis-server${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    let redis: TestRedis;
    beforeAll(async () => {
      redis = await startRedis("tls-secret", true);
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it("connects with the CA from GENESIS_REDIS_CA_FILE; refuses an unknown CA and plain redis:// with one line", async () => {
      const env = { GENESIS_REDIS_PASSWORD: "tls-secret", GENESIS_REDIS_CA_FILE: redis.caFile };
      expect(redis.url.startsWith("rediss://")).toBe(true);
      await expect(checkConnection(connectionOptions(redis.url, env))).resolves.toBeUndefined();
      // the system CAs do not know the test CA
      await expect(
        checkConnection(connectionOptions(redis.url, { GENESIS_REDIS_PASSWORD: "tls-secret" })),
      ).rejects.toThrow(
        new RegExp(`^rediss://127\\.0\\.0\\.1:${redis.port}: cannot connect \\(.*(self-signed|certificate)`),
      );
      await expect(
        checkConnection(connectionOptions(redis.url.replace("rediss", "redis"), env), 2000),
      ).rejects.toThrow(new RegExp(`^redis://127\\.0\\.0\\.1:${redis.port}: cannot connect`));
    });

    it("a grid runs over TLS: queue, worker process, results", async () => {
      const env = {
        ...process.env,
        GENESIS_REDIS_PASSWORD: "tls-secret",
        GENESIS_REDIS_CA_FILE: redis.caFile,
      };
      const root = mkdtempSync(join(tmpdir(), "grid-tls-"));
      const cfg = { url: redis.url, queueName: "q-tls", workRoot: join(root, "work"), dataRoots: [root] };
      const worker = spawn(process.execPath, [gridProgram("worker-main"), JSON.stringify(cfg)], {
        env,
        stdio: "ignore",
      });
      try {
        const plan = makePlan({
          kind: "synthetic",
          tasks: ["ncs"],
          inits: ["scratch", "genesis"],
          runs: 2,
          budget: { quick: true, steps: 1, sleepMs: 0 },
        });
        const { results } = await runQueue(join(root, "out"), plan.cells, {
          connection: connectionOptions(redis.url, env),
          queueName: "q-tls",
          pollMs: 100,
          timeoutMs: 60_000,
        });
        expect(results.filter((r) => r.status === "done")).toHaveLength(4);
      } finally {
        worker.kill("SIGKILL");
      }
    });
  },
);
