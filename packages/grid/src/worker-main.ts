/**
 * One queue worker process (`genesis worker --queue …` starts `--concurrency` of these; tests and
 * Kubernetes Deployments may start it directly): `node dist/worker-main.js '<config JSON>'` with
 * `{ url, queueName?, workRoot, dataRoots, lockDuration?, stalledInterval?, maxStalledCount? }`.
 * No secret is in the config: the password comes from the environment (see `connectionOptions`).
 * Logs go to stderr as `worker <pid>: …`; SIGTERM / SIGINT close the worker gracefully (the
 * running cell finishes first). Exit code 1 with one line when the connection is refused or a data root is missing (none given,
 * or not an existing folder).
 */
import { runQueueWorker } from "./queue.js";
import { checkConnection, connectionOptions, redactUrl } from "./redis.js";
import { checkDataRoots } from "./validate.js";

interface WorkerConfig {
  url: string;
  queueName?: string;
  workRoot: string;
  dataRoots: string[];
  lockDuration?: number;
  stalledInterval?: number;
  maxStalledCount?: number;
}

const log = (line: string) => process.stderr.write(`worker ${process.pid}: ${line}\n`);

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? "{}") as WorkerConfig;
  checkDataRoots(cfg.dataRoots ?? []);
  const connection = connectionOptions(cfg.url);
  await checkConnection(connection);
  const worker = runQueueWorker({ ...cfg, connection, log });
  await worker.waitUntilReady();
  log(`ready on ${redactUrl(cfg.url)} queue ${cfg.queueName ?? "genesis-grid"}`);
  const stop = () => {
    log("closing (the running cell finishes first)");
    void worker.close().then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((e: unknown) => {
  log(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
