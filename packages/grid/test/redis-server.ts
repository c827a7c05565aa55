import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
  /** With `tls`: the CA certificate (PEM file) that signed the server's certificate. */
  readonly caFile?: string;
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

/** Why the TLS test skips here (no `openssl` to make its certificates), or undefined. */
export function tlsSkipReason(): string | undefined {
  return spawnSync("openssl", ["version"]).status === 0
    ? undefined
    : "openssl is not installed (needed to make test certificates)";
}

/** A throw-away CA and a server certificate for 127.0.0.1 signed by it, made with openssl in `dir`. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const run = (args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  };
  run([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "1",
    "-subj",
    "/CN=grid-test-ca",
  ]);
  run([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  ]);
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
  run([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
  ]);
  return { ca: join(dir, "ca.crt"), cert: join(dir, "server.crt"), key: join(dir, "server.key") };
}

/**
 * Start a server; the password goes in its config file (not its command line). With `tls`, the
 * server listens with TLS only (`rediss://`), its certificate signed by a fresh CA (`caFile`).
 */
export async function startRedis(password = "grid-test-secret", tls = false): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), "grid-redis-"));
  const port = await freePort();
  const conf = join(dir, "redis.conf");
  const certs = tls ? makeCertificates(dir) : undefined;
  const listen = certs
    ? [
        "port 0",
        `tls-port ${port}`,
        `tls-cert-file ${certs.cert}`,
        `tls-key-file ${certs.key}`,
        `tls-ca-cert-file ${certs.ca}`,
        "tls-auth-clients no",
      ]
    : [`port ${port}`];
  writeFileSync(
    conf,
    [
      ...listen,
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
      ...(certs ? { tls: { ca: readFileSync(certs.ca, "utf8") } } : {}),
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
    url: `${certs ? "rediss" : "redis"}://127.0.0.1:${port}`,
    ...(certs ? { caFile: certs.ca } : {}),
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
