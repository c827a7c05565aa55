import { closeSync, existsSync, mkdirSync, openSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { TrainError } from "./errors.js";

/**
 * Make sure `dir` is a folder this process can write, before any training: missing folders are
 * created (parents first, one level at a time), then a probe file is created and removed.
 * @param dir the folder (created if missing)
 * @param label how the message names it, e.g. `--out` or `pretraining output folder`
 * @throws TrainError, one line naming the folder and the reason: it is a file, it cannot be
 *   created, or it cannot be written (read-only, permissions, full disk)
 */
export function assertWritableDir(dir: string, label = "output folder"): void {
  const abs = resolve(dir);
  if (existsSync(abs) && !statSync(abs).isDirectory())
    throw new TrainError(
      `${label} ${dir}: exists and is not a folder; give a folder (it is created if missing)`,
    );
  const missing: string[] = [];
  for (let d = abs; !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      throw new TrainError(`${label} ${dir}: cannot create the folder ${d} (${(e as Error).message})`);
    }
  }
  const probe = join(abs, `.genesis-write-test-${process.pid}`);
  try {
    closeSync(openSync(probe, "w"));
    rmSync(probe, { force: true });
  } catch (e) {
    throw new TrainError(`${label} ${dir}: the folder is not writable (${(e as Error).message})`);
  }
}
