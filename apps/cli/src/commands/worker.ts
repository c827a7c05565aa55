import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import {
  checkConnection,
  checkDataRoots,
  connectionOptions,
  DEFAULT_QUEUE,
  gridProgram,
  redactUrl,
} from "@models-genesis/grid";
import type { Command } from "commander";

const collect = (v: string, prev: string[]) => [...prev, v];

/**
 * `genesis worker --queue URL --work DIR --data-root DIR…`: serve a grid's BullMQ queue with
 * `--concurrency` worker processes (one cell at a time each; `--gpus` gives each its GPU). Runs until
 * SIGINT/SIGTERM, which lets running cells finish. The password never appears on the command line:
 * GENESIS_REDIS_PASSWORD or GENESIS_REDIS_PASSWORD_FILE (and GENESIS_REDIS_USERNAME for an ACL user).
 */
export function register(program: Command): void {
  program
    .command("worker")
    .description(
      "Take grid cells from a Redis queue (genesis grid run --queue) and run them; as many machines as you like",
    )
    .requiredOption(
      "--queue <url>",
      "redis://HOST:PORT[/DB] or rediss://HOST:PORT[/DB] (TLS; CA: GENESIS_REDIS_CA_FILE)",
    )
    .option("--queue-name <name>", "BullMQ queue name", DEFAULT_QUEUE)
    .requiredOption(
      "--work <dir>",
      "where cells run (checkpoints, models); shared storage lets another machine resume a killed cell",
    )
    .option(
      "--data-root <dir>",
      "a folder jobs may read (repeatable, at least one, must exist); a job with a path outside every root is rejected",
      collect,
      [],
    )
    .option("--concurrency <n>", "worker processes on this machine (one cell each)", "1")
    .option(
      "--gpus <list>",
      "GPU index per worker process, round robin (CUDA_VISIBLE_DEVICES, GENESIS_GPU_INDEX)",
    )
    .option(
      "--lock-ms <n>",
      "job lock duration in ms: a worker silent this long is taken as dead and its cell retried",
      "30000",
    )
    .action(async (o: Record<string, string | string[]>) => {
      const n = Number(o.concurrency);
      if (!Number.isInteger(n) || n < 1)
        throw new Error(`--concurrency: "${o.concurrency}" is not a positive integer`);
      const lock = Number(o.lockMs);
      if (!Number.isInteger(lock) || lock < 1000)
        throw new Error(`--lock-ms: "${o.lockMs}" is not an integer ≥ 1000`);
      const dataRoots = (o.dataRoot as string[]).map((d) => resolve(d));
      // refused at start: a worker without its data roots would reject every job that names a path
      checkDataRoots(dataRoots);
      await checkConnection(connectionOptions(o.queue as string));
      const cfg = {
        url: o.queue,
        queueName: o.queueName,
        workRoot: resolve(o.work as string),
        dataRoots,
        lockDuration: lock,
        stalledInterval: lock,
      };
      process.stderr.write(
        `genesis worker: ${n} process(es) on ${redactUrl(o.queue as string)} queue ${o.queueName}; data roots ${cfg.dataRoots.join(", ")}\n`,
      );
      const gpus = typeof o.gpus === "string" ? o.gpus.split(",") : [];
      const children: ChildProcess[] = [];
      for (let k = 0; k < n; k++) {
        const gpu = gpus.length ? gpus[k % gpus.length] : undefined;
        children.push(
          spawn(process.execPath, [gridProgram("worker-main"), JSON.stringify(cfg)], {
            stdio: ["ignore", "inherit", "inherit"],
            env: {
              ...process.env,
              ...(gpu !== undefined ? { CUDA_VISIBLE_DEVICES: gpu, GENESIS_GPU_INDEX: gpu } : {}),
            },
          }),
        );
      }
      const stop = () => {
        for (const c of children) c.kill("SIGTERM");
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      const codes = await Promise.all(
        children.map((c) => new Promise<number>((r) => c.once("exit", (code) => r(code ?? 1)))),
      );
      if (codes.some((c) => c !== 0))
        throw new Error(`worker processes exited with codes ${codes.join(", ")}`);
    });
}
