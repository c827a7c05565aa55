import { existsSync } from "node:fs";
import { appendFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "@models-genesis/volume-io";
import { DatasetError } from "./cell-runner.js";
import { sha256Hex } from "./ids.js";
import type { GridCell } from "./plan.js";

/**
 * The synthetic cell: a stand-in for a fine-tuning run in tests and benchmarks of the grid's
 * mechanics (queue, kill, restart, reports). It takes `budget.steps` steps (default 5) of
 * `budget.sleepMs` ms (default 50; plus `budget.blockMs` ms of busy waiting that blocks the
 * thread, as a tfjs training step does), checkpointing `{ step, acc }` atomically to
 * `workDir/checkpoint.json` after each, so a killed run resumes where it stopped; each start is
 * logged to `workDir/events.log` (`start <step> <pid> <parent pid>`). Its value is
 * `base(init) + 0.1 · (mean of u_k − 0.5)` with `u_k` = SHA-256(seed, k) mapped to [0, 1), a
 * function of the seed alone however often it was interrupted. `base` is 0.70 (scratch), 0.75
 * (genesis), 0.76 (official), 0.65 (scratch-2d), 0.68 (genesis-2d).
 *
 * @throws DatasetError when `cell.data` is given and does not exist (the data error of a real cell).
 */
export async function runSyntheticCell(
  cell: GridCell,
  workDir: string,
  log: (line: string) => void,
): Promise<{ value: number; metrics: Record<string, number>; resumedFromStep: number }> {
  if (cell.data !== undefined && !existsSync(cell.data))
    throw new DatasetError(cell.data, "no such dataset folder");
  const steps = cell.budget.steps ?? 5;
  const sleepMs = cell.budget.sleepMs ?? 50;
  const ckpt = join(workDir, "checkpoint.json");
  let state = { step: 0, acc: 0 };
  if (existsSync(ckpt)) state = JSON.parse(await readFile(ckpt, "utf8")) as typeof state;
  const resumedFromStep = state.step;
  await appendFile(join(workDir, "events.log"), `start ${state.step} ${process.pid} ${process.ppid}\n`);
  if (state.step > 0) log(`synthetic ${cell.id}: resuming at step ${state.step}/${steps}`);
  for (let k = state.step; k < steps; k++) {
    if (sleepMs > 0) await new Promise((r) => setTimeout(r, sleepMs));
    const block = cell.budget.blockMs ?? 0;
    for (const t = performance.now(); performance.now() - t < block; ); // a blocking "training step"
    const u = Number.parseInt(sha256Hex(`${cell.seed}/${k}`).slice(0, 12), 16) / 2 ** 48;
    state = { step: k + 1, acc: state.acc + u };
    await writeFileAtomic(ckpt, JSON.stringify(state));
  }
  const base: Record<string, number> = {
    scratch: 0.7,
    genesis: 0.75,
    official: 0.76,
    "scratch-2d": 0.65,
    "genesis-2d": 0.68,
  };
  const value = (base[cell.init] ?? 0.5) + 0.1 * (state.acc / steps - 0.5);
  return { value, metrics: { dice: value - 0.1 }, resumedFromStep };
}
