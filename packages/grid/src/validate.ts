import { existsSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { TASK_INITS, TASK_NAMES } from "./cell-runner.js";
import { CELL_ID_PATTERN, contentId } from "./ids.js";
import { type CellBudget, checkBudget, type GridCell } from "./plan.js";

/** A job payload a worker refuses to act on; the message says which field and why. */
export class JobRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JobRejectedError";
  }
}

const FIELDS = new Set([
  "id",
  "kind",
  "task",
  "init",
  "run",
  "seed",
  "splitSeed",
  "data",
  "weights",
  "weights2d",
  "budget",
]);

/** True when `p` is `root` or inside it (both absolute and normalised). */
function inside(p: string, root: string): boolean {
  const r = relative(root, p);
  return r === "" || (!r.startsWith(`..${sep}`) && r !== ".." && !isAbsolute(r));
}

/**
 * Check a job payload before acting on it: known fields only, `kind` task/synthetic, a known task
 * and initialisation, integers in bounds (run 0…999, seeds in [0, 2³¹), budget fields as
 * {@link checkBudget}), a cell id that matches its content, and every path (`data`, `weights`,
 * `weights2d`) absolute, free of `..` segments and — after resolving symbolic links where it
 * exists — inside one of `dataRoots`.
 *
 * @param dataRoots absolute folders the worker may read; a payload with a path and no roots is rejected.
 * @returns the payload as a {@link GridCell}.
 * @throws JobRejectedError naming the field and the problem.
 */
export function validateCell(payload: unknown, dataRoots: readonly string[]): GridCell {
  const bad = (m: string): never => {
    throw new JobRejectedError(m);
  };
  if (!payload || typeof payload !== "object" || Array.isArray(payload)) bad("payload is not an object");
  const c = payload as Record<string, unknown>;
  for (const k of Object.keys(c)) if (!FIELDS.has(k)) bad(`unknown field "${k}"`);
  if (typeof c.id !== "string" || !CELL_ID_PATTERN.test(c.id))
    bad(`id ${JSON.stringify(c.id)} is not a cell id`);
  if (c.kind !== "task" && c.kind !== "synthetic")
    bad(`kind ${JSON.stringify(c.kind)} is neither task nor synthetic`);
  if (typeof c.task !== "string" || !TASK_NAMES.includes(c.task as never))
    bad(`task ${JSON.stringify(c.task)} is not one of ${TASK_NAMES.join(", ")}`);
  if (typeof c.init !== "string" || !TASK_INITS.includes(c.init as never))
    bad(`init ${JSON.stringify(c.init)} is not one of ${TASK_INITS.join(", ")}`);
  const int = (k: string, lo: number, hi: number) => {
    const v = c[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi)
      bad(`${k} ${JSON.stringify(v)} is not an integer in ${lo}…${hi}`);
  };
  int("run", 0, 999);
  int("seed", 0, 2 ** 31 - 1);
  int("splitSeed", 0, 2 ** 31 - 1);
  try {
    checkBudget(c.budget);
  } catch (e) {
    bad((e as Error).message);
  }
  const roots = dataRoots.map((r) => {
    const a = resolve(r);
    return existsSync(a) ? realpathSync(a) : a;
  });
  for (const k of ["data", "weights", "weights2d"]) {
    const p = c[k];
    if (p === undefined) continue;
    if (typeof p !== "string" || p === "") bad(`${k} is not a path`);
    const s = p as string;
    if (!isAbsolute(s)) bad(`${k} "${s}" is not an absolute path`);
    if (s.split(/[\\/]/).includes("..")) bad(`${k} "${s}" contains a ../ segment`);
    const real = existsSync(s) ? realpathSync(s) : resolve(s);
    if (!roots.some((r) => inside(real, r)))
      bad(
        roots.length === 0
          ? `${k} "${s}": this worker has no data roots (--data-root), so it reads no paths`
          : `${k} "${s}" is outside the data roots (${roots.join(", ")})`,
      );
  }
  const { id, ...content } = c;
  if (contentId(content) !== id) bad(`id ${id} does not match the cell's content`);
  return c as unknown as GridCell & { budget: CellBudget };
}

/**
 * Check a queue worker's data roots before it takes any job: at least one, and each an existing
 * folder (a worker without them would reject every job that names a path).
 * @throws Error with one line: no root given, or the root that does not exist / is not a folder.
 */
export function checkDataRoots(roots: readonly string[]): void {
  if (roots.length === 0)
    throw new Error(
      "a data root is needed: pass --data-root DIR (repeatable), the folder(s) holding the datasets and weights the jobs read",
    );
  for (const r of roots) {
    if (!existsSync(r)) throw new Error(`--data-root ${r}: no such folder`);
    if (!statSync(r).isDirectory()) throw new Error(`--data-root ${r}: not a folder`);
  }
}
