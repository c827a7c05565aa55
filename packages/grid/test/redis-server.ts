import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";

/**
 * Test helper: a private `redis-server` (Debian's package) on a free loopback port, password-protected,
 * with no persistence, started by the tests and stopped after them.
 */
export interface TestRedis {
  readonly port: number;
  readonly password: string;
  readonly url: string;
  stop(): Promise<void>;
}

/** Why the Redis suites skip here, or undefined when `redis-server` runs. Fails when GENESIS_REQUIRE_REDIS=1. */
export function redisSkipReason(): string | undefined {
  const r = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (r.status === 0) return undefined;
  const reason = "redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)";
  if (process.env.GENESIS_REQUIRE_REDIS === "1")
    throw new Error(`GENESIS_REQUIRE_REDIS=1 but ${reason}: the Redis suites must run, not skip`);
  return reason;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Start a server; the password goes in its config file (not its command line). */
export async function startRedis(password = "grid-test-secret"): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), "grid-redis-"));
  const port = await freePort();
  const conf = join(dir, "redis.conf");
  writeFileSync(
    conf,
    [
      `port ${port}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      'save ""',
      "appendonly no",
      `requirepass ${password}`,
      "",
    ].join("\n"),
  );
  const proc: ChildProcess = spawn("redis-server", [conf], { stdio: "ignore" });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = new Redis({
      port,
      host: "127.0.0.1",
      password,
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    r.on("error", () => {});
    try {
      await r.connect();
      await r.ping();
      r.disconnect();
      break;
    } catch {
      r.disconnect();
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`redis-server on port ${port} did not start within 10 s`);
      }
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  return {
    port,
    password,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (proc.exitCode === null) {
        const gone = new Promise((res) => proc.once("exit", res));
        proc.kill("SIGTERM");
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
