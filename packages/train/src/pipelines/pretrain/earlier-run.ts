import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { TrainError } from "../../errors.js";
import { PRETRAIN_PLAN_FILE } from "./plan.js";

/**
 * The files and folders of a pretraining run in its output folder (relative to it), as
 * `runPretraining` writes them: removed by {@link clearPretrainRun}. The folder's other files are
 * not the run's and stay.
 */
export const PRETRAIN_RUN_FILES = [
  PRETRAIN_PLAN_FILE,
  "checkpoints",
  "log.jsonl",
  "model",
  "samples",
  "loss.svg",
  "pretrain.json",
] as const;

/** An earlier pretraining run found in an output folder ({@link findPretrainRun}). */
export interface EarlierPretrainRun {
  /** What marks it, relative to the folder: `plan.json` or the first `checkpoints/*.ckpt`. */
  marker: string;
  /** Epochs its `log.jsonl` records as finished (its last line's 1-based epoch), 0 without one. */
  epoch: number;
}

/**
 * Does `out` hold a pretraining run: `out/plan.json` or a checkpoint `out/checkpoints/*.ckpt`
 * (`last.ckpt`, `best.ckpt`, `last.prev.ckpt`)? Reads no checkpoint, only `log.jsonl`'s last line.
 * @returns the run, or null when the folder (or its absence) holds none
 */
export function findPretrainRun(out: string): EarlierPretrainRun | null {
  let marker: string | null = existsSync(join(out, PRETRAIN_PLAN_FILE)) ? PRETRAIN_PLAN_FILE : null;
  const ckDir = join(out, "checkpoints");
  if (!marker && existsSync(ckDir) && statSync(ckDir).isDirectory()) {
    const ck = readdirSync(ckDir)
      .filter((f) => f.endsWith(".ckpt"))
      .sort();
    if (ck.length > 0) marker = `checkpoints/${ck.includes("last.ckpt") ? "last.ckpt" : ck[0]}`;
  }
  if (!marker) return null;
  let epoch = 0;
  try {
    const lines = readFileSync(join(out, "log.jsonl"), "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "");
    const last = JSON.parse(lines[lines.length - 1] ?? "{}") as { epoch?: unknown };
    if (typeof last.epoch === "number" && Number.isInteger(last.epoch)) epoch = last.epoch;
  } catch {
    // no log (or an unreadable one): the run finished no epoch we can name
  }
  return { marker, epoch };
}

/**
 * A new (not resumed) pretraining into `out` must not silently overwrite an earlier run there.
 * @throws TrainError, one line, when `out` holds a run ({@link findPretrainRun}):
 *   `DIR holds a pretraining run (plan.json, epoch N): continue it with --resume, or pass --overwrite to start over`
 */
export function assertNoPretrainRun(out: string): void {
  const run = findPretrainRun(out);
  if (run)
    throw new TrainError(
      `${out} holds a pretraining run (${run.marker}, epoch ${run.epoch}): continue it with --resume, or pass --overwrite to start over`,
    );
}

/**
 * Remove an earlier run's files from `out` ({@link PRETRAIN_RUN_FILES}: plan, checkpoints including
 * `last.prev.ckpt`, log, model, samples, loss curve, summary) so a new run starts clean; other files
 * in `out` are kept.
 * @returns the names removed (relative to `out`), for the log line
 */
export async function clearPretrainRun(out: string): Promise<string[]> {
  const removed: string[] = [];
  for (const f of PRETRAIN_RUN_FILES) {
    const p = join(out, f);
    if (!existsSync(p)) continue;
    await rm(p, { recursive: true, force: true });
    removed.push(f);
  }
  return removed;
}
