import { readFileSync } from "node:fs";
import { Redis, type RedisOptions } from "ioredis";

/**
 * Where the queue lives and how to log in, without secrets on the command line: the URL
 * (`redis://HOST:PORT[/DB]` or `rediss://…` for TLS) names the server only; the ACL user comes
 * from `GENESIS_REDIS_USERNAME`, the password from `GENESIS_REDIS_PASSWORD` or from the file named
 * by `GENESIS_REDIS_PASSWORD_FILE` (trailing newline dropped; e.g. a mounted Kubernetes secret),
 * and for `rediss://` a private CA from `GENESIS_REDIS_CA_FILE` (PEM; the system CAs otherwise).
 *
 * @returns ioredis options (`maxRetriesPerRequest: null`, as BullMQ workers need).
 * @throws Error (one line echoing the URL without any credentials) when the URL is not redis:// or
 *   rediss://, has a port outside 1…65535, carries a user or password (refused: it would show in
 *   the process list and logs), or a named file cannot be read. An empty `GENESIS_REDIS_PASSWORD`
 *   counts as unset (the password file is then read).
 */
export function connectionOptions(url: string, env: NodeJS.ProcessEnv = process.env): RedisOptions {
  const expected = "expected redis://HOST:PORT or rediss://HOST:PORT (TLS)";
  const shown = stripCredentials(url);
  if (!/^rediss?:\/\//i.test(url.trim()))
    throw new Error(`--queue ${shown}: not a redis:// or rediss:// URL (${expected})`);
  const port = /^rediss?:\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^:/]*)(?::([^/]*))?/i.exec(url.trim())?.[1];
  if (
    port !== undefined &&
    port !== "" &&
    !(/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)
  )
    throw new Error(`--queue ${shown}: port "${port}" is not a number in 1…65535`);
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    throw new Error(`--queue ${shown}: not a valid URL (${expected})`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:")
    throw new Error(`--queue ${shown}: not a redis:// or rediss:// URL (${expected})`);
  if (u.username || u.password)
    throw new Error(
      `--queue ${redactUrl(url)}: credentials in the URL are refused (they would show in the process list and logs); put the password in GENESIS_REDIS_PASSWORD or a file named by GENESIS_REDIS_PASSWORD_FILE, the ACL user in GENESIS_REDIS_USERNAME`,
    );
  const db = u.pathname && u.pathname !== "/" ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new Error(`--queue ${redactUrl(url)}: "${u.pathname}" is not a database number`);
  // an empty variable (`GENESIS_REDIS_PASSWORD=`) is unset: it does not hide the password file
  let password = env.GENESIS_REDIS_PASSWORD || undefined;
  if (password === undefined && env.GENESIS_REDIS_PASSWORD_FILE) {
    try {
      password = readFileSync(env.GENESIS_REDIS_PASSWORD_FILE, "utf8").replace(/\r?\n$/, "");
    } catch (e) {
      throw new Error(
        `GENESIS_REDIS_PASSWORD_FILE ${env.GENESIS_REDIS_PASSWORD_FILE}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`,
      );
    }
  }
  let ca: string | undefined;
  if (u.protocol === "rediss:" && env.GENESIS_REDIS_CA_FILE) {
    try {
      ca = readFileSync(env.GENESIS_REDIS_CA_FILE, "utf8");
    } catch (e) {
      throw new Error(
        `GENESIS_REDIS_CA_FILE ${env.GENESIS_REDIS_CA_FILE}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`,
      );
    }
  }
  const host = u.hostname.replace(/^\[|\]$/g, "");
  return {
    host,
    port: u.port ? Number(u.port) : 6379,
    db,
    ...(env.GENESIS_REDIS_USERNAME ? { username: env.GENESIS_REDIS_USERNAME } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(u.protocol === "rediss:" ? { tls: { servername: host, ...(ca ? { ca } : {}) } } : {}),
    maxRetriesPerRequest: null,
  };
}

/** `url` as typed, less any `user:password@` part: for messages about a URL that does not parse. */
function stripCredentials(url: string): string {
  return url.trim().replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@]*@/i, "$1");
}

/** The URL as it may be logged: scheme, host, port and database; any user or password removed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}`;
  } catch {
    return "(unparsable URL)";
  }
}

/** `host:port` of connection options, for messages. */
const where = (o: RedisOptions) => `${o.tls ? "rediss" : "redis"}://${o.host}:${o.port}`;

/**
 * Connect once, without retrying, and PING: the error a user gets before any queue is touched.
 * @throws Error with one clear line: credentials refused (`WRONGPASS`), a password needed
 *   (`NOAUTH`), nothing listening, or the TLS/other failure; never the password itself.
 */
export async function checkConnection(o: RedisOptions, timeoutMs = 5000): Promise<void> {
  const errors: string[] = [];
  const r = new Redis({
    ...o,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  r.on("error", (e: Error) => errors.push(e.message));
  try {
    await r.connect();
    await r.ping();
  } catch (e) {
    const msg = [...errors, (e as Error).message].join("; ");
    if (/WRONGPASS|invalid username-password|invalid password/i.test(msg))
      throw new Error(
        `${where(o)} refused the credentials (WRONGPASS): check GENESIS_REDIS_USERNAME and GENESIS_REDIS_PASSWORD / GENESIS_REDIS_PASSWORD_FILE`,
      );
    if (/NOAUTH|Authentication required/i.test(msg))
      throw new Error(
        `${where(o)} requires a password (NOAUTH): set GENESIS_REDIS_PASSWORD or GENESIS_REDIS_PASSWORD_FILE`,
      );
    if (/ECONNREFUSED/.test(msg)) throw new Error(`${where(o)}: nothing listens there (connection refused)`);
    const safe = o.password ? msg.replaceAll(o.password, "***") : msg;
    throw new Error(`${where(o)}: cannot connect (${safe})`);
  } finally {
    r.disconnect();
  }
}
