import { existsSync, realpathSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, isAbsolute, join, relative, resolve, sep } from "node:path";
import { writeFileAtomic } from "@models-genesis/volume-io";
import { extractScanCubes, listScans, type ScanCubesOptions } from "./cell-runner.js";
import { CELL_ID_PATTERN, canonicalJson, contentId, sha256Hex } from "./ids.js";
import type { CellResult } from "./results.js";
import { JobRejectedError } from "./validate.js";

/**
 * Preprocessing as jobs: one job per scan extracts its pretraining cubes into a shard
 * (`WORK/<id>/cubes.npy`), and a manifest lists the shards; a corpus of thousands of scans is then
 * split across processes, machines (the queue) or pods (`--shard i/N`) like a grid. Each scan
 * has its own seed (SHA-256 of the corpus seed and the scan's path relative to its input), so a
 * scan's cubes do not depend on which other scans are in the corpus or on the order they run —
 * unlike `genesis cubes`, which draws every scan from one generator in file order.
 */

/** Format tag of a cubes plan (`plan.json` of a cubes folder). */
export const CUBES_PLAN_FORMAT = "genesis-cubes-plan/1";
/** Format tag of `manifest.json`. */
export const CUBES_MANIFEST_FORMAT = "genesis-cubes-manifest/1";

/** One cubes job: the cubes of one scan. */
export interface CubesCell {
  /** {@link contentId} of every other field. */
  readonly id: string;
  readonly kind: "cubes";
  /** Absolute path of the scan (a volume file or a DICOM series folder). */
  readonly scan: string;
  /** Position of the scan in the plan (sorted files). */
  readonly index: number;
  readonly seed: number;
  readonly options: ScanCubesOptions;
}

/** A cubes plan: every scan of the inputs, one job each. */
export interface CubesPlan {
  readonly format: typeof CUBES_PLAN_FORMAT;
  readonly seed: number;
  readonly cells: readonly CubesCell[];
}

/** Defaults of the reference generator (`infinite_generator_3D.py`, as `genesis cubes`). */
export const CUBES_DEFAULTS: ScanCubesOptions = {
  scale: 32,
  borderXY: 100,
  borderZ: 30,
  lungMax: 0.15,
  patchSize: [64, 64, 32],
};

/** @throws Error naming an option out of bounds. */
function checkCubesOptions(o: ScanCubesOptions): void {
  const int = (k: string, v: unknown, lo: number, hi: number) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi)
      throw new Error(`${k}: ${JSON.stringify(v)} is not an integer in ${lo}…${hi}`);
  };
  int("scale", o.scale, 1, 100000);
  int("borderXY", o.borderXY, 0, 10000);
  int("borderZ", o.borderZ, 0, 10000);
  if (typeof o.lungMax !== "number" || !(o.lungMax > 0 && o.lungMax <= 1))
    throw new Error(`lungMax: ${JSON.stringify(o.lungMax)} is not in (0, 1]`);
  if (!Array.isArray(o.patchSize) || o.patchSize.length !== 3) throw new Error("patchSize: not three sizes");
  for (const s of o.patchSize) int("patchSize", s, 1, 1024);
}

/**
 * Plan one job per scan under `inputs` (files or folders; a LUNA16 root's `subset*`, `folds` of them).
 * @throws Error when no volume is found, or an option is out of bounds.
 */
export async function planCubes(o: {
  inputs: readonly string[];
  seed?: number;
  folds?: readonly number[];
  options?: Partial<ScanCubesOptions>;
}): Promise<CubesPlan> {
  const seed = o.seed ?? 1;
  const options: ScanCubesOptions = JSON.parse(canonicalJson({ ...CUBES_DEFAULTS, ...o.options }));
  checkCubesOptions(options);
  const inputs = o.inputs.map((p) => resolve(p));
  const scans = await listScans(inputs, o.folds);
  if (scans.length === 0)
    throw new Error(`no volume files (.mhd, .mha, .nii, .nii.gz, .hdr) found in ${inputs.join(", ")}`);
  const cells = scans.map((s, index) => {
    const scan = resolve(s);
    const root = inputs.find((i) => scan === i || scan.startsWith(`${i}${sep}`)) ?? scan;
    const rel = relative(root, scan) || basename(scan);
    const scanSeed = Number.parseInt(sha256Hex(`genesis-cubes-seed/${seed}/${rel}`).slice(0, 8), 16) >>> 1;
    const content = { kind: "cubes" as const, scan, index, seed: scanSeed, options };
    return { id: contentId(content), ...content };
  });
  return { format: CUBES_PLAN_FORMAT, seed, cells };
}

/**
 * Check a cubes job before acting on it: known fields, an id matching the content, integers in
 * bounds, and the scan path absolute, free of `..` and inside one of `dataRoots` (after resolving
 * symbolic links).
 * @throws JobRejectedError naming the field and the problem.
 */
export function validateCubesCell(payload: unknown, dataRoots: readonly string[]): CubesCell {
  const bad = (m: string): never => {
    throw new JobRejectedError(m);
  };
  if (!payload || typeof payload !== "object" || Array.isArray(payload)) bad("payload is not an object");
  const c = payload as Record<string, unknown>;
  for (const k of Object.keys(c))
    if (!["id", "kind", "scan", "index", "seed", "options"].includes(k)) bad(`unknown field "${k}"`);
  if (typeof c.id !== "string" || !CELL_ID_PATTERN.test(c.id))
    bad(`id ${JSON.stringify(c.id)} is not a cell id`);
  if (c.kind !== "cubes") bad(`kind ${JSON.stringify(c.kind)} is not cubes`);
  for (const [k, hi] of [
    ["index", 10_000_000],
    ["seed", 2 ** 31 - 1],
  ] as const) {
    const v = c[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > hi)
      bad(`${k} ${JSON.stringify(v)} is not an integer in 0…${hi}`);
  }
  try {
    checkCubesOptions(c.options as ScanCubesOptions);
  } catch (e) {
    bad(`options.${(e as Error).message}`);
  }
  const s = c.scan;
  if (typeof s !== "string" || !isAbsolute(s)) bad(`scan ${JSON.stringify(s)} is not an absolute path`);
  if ((s as string).split(/[\\/]/).includes("..")) bad(`scan "${s}" contains a ../ segment`);
  const real = existsSync(s as string) ? realpathSync(s as string) : resolve(s as string);
  const roots = dataRoots.map((r) => (existsSync(r) ? realpathSync(r) : resolve(r)));
  const inside = (r: string) => {
    const rel = relative(r, real);
    return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
  };
  if (!roots.some(inside))
    bad(
      roots.length === 0
        ? `scan "${s}": this worker has no data roots (--data-root)`
        : `scan "${s}" is outside the data roots (${roots.join(", ")})`,
    );
  const { id, ...content } = c;
  if (contentId(content) !== id) bad(`id ${id} does not match the job's content`);
  return c as unknown as CubesCell;
}

/** Run a cubes job in `workDir`: `workDir/cubes.npy`. @returns the cube count and crops tried (+ why none). */
export async function runCubesCell(
  cell: CubesCell,
  workDir: string,
): Promise<{ count: number; attempts: number; skipped?: string }> {
  return extractScanCubes(cell.scan, cell.seed, cell.options, join(workDir, "cubes.npy"));
}

/** `manifest.json` of a cubes folder: every shard with its scan and cube count, in plan order. */
export interface CubesManifest {
  readonly format: typeof CUBES_MANIFEST_FORMAT;
  readonly seed: number;
  readonly options: ScanCubesOptions | undefined;
  /** Cubes in all shards. */
  readonly cubes: number;
  readonly shards: Array<{ scan: string; file: string; cubes: number; seed: number; skipped?: string }>;
  /** Scans whose job failed (unreadable volume …), with the message. */
  readonly failed: Array<{ scan: string; error: string }>;
}

/**
 * Write `OUT/manifest.json` (atomically) from the plan and the results: shard files are
 * `work/<id>/cubes.npy` relative to `out`. Scans still without a result are left out and counted
 * in the returned `missing`.
 */
export async function writeCubesManifest(
  out: string,
  plan: CubesPlan,
  results: ReadonlyMap<string, CellResult>,
): Promise<{ manifest: CubesManifest; file: string; missing: number }> {
  const shards: CubesManifest["shards"] = [];
  const failed: CubesManifest["failed"] = [];
  let missing = 0;
  for (const c of plan.cells) {
    const r = results.get(c.id);
    if (!r) missing++;
    else if (r.status === "failed") failed.push({ scan: c.scan, error: r.error ?? "" });
    else
      shards.push({
        scan: c.scan,
        file: join("work", c.id, "cubes.npy"),
        cubes: r.value ?? 0,
        seed: c.seed,
        ...(r.note ? { skipped: r.note } : {}),
      });
  }
  const manifest: CubesManifest = {
    format: CUBES_MANIFEST_FORMAT,
    seed: plan.seed,
    options: plan.cells[0]?.options,
    cubes: shards.reduce((a, s) => a + s.cubes, 0),
    shards,
    failed,
  };
  const file = join(out, "manifest.json");
  await writeFileAtomic(file, `${JSON.stringify(manifest, null, 2)}\n`, { mkdir: true });
  return { manifest, file, missing };
}

/** Read a cubes plan (`DIR/plan.json`), checking every id. @throws Error naming the file and the problem. */
export async function readCubesPlan(dir: string): Promise<CubesPlan> {
  const file = join(dir, "plan.json");
  const plan = JSON.parse(await readFile(file, "utf8")) as CubesPlan;
  if (plan.format !== CUBES_PLAN_FORMAT) throw new Error(`${file}: not a ${CUBES_PLAN_FORMAT} plan`);
  for (const c of plan.cells) {
    const { id, ...content } = c;
    if (contentId(content) !== id) throw new Error(`${file}: job ${id} does not match its content (edited?)`);
  }
  return plan;
}
