import {
  type CubeExtractionOptions,
  extractCubes,
  readCubes,
  type Shape3,
  Rng as TransformRng,
} from "@models-genesis/transforms";
import { collectVolumeInputs, countNonFinite, readVolume } from "@models-genesis/volume-io";
import { TrainError } from "../../errors.js";

/** Cubes gathered for pretraining: float32 in [0, 1], C order (N, rows, cols, deps). */
export interface CubeSet {
  data: Float32Array;
  count: number;
  shape: Shape3;
  /** Source file of each cube. */
  sources: string[];
}

/** Options of {@link collectCubes}. */
export interface CollectCubesOptions extends CubeExtractionOptions {
  /** LUNA16 folds to read from a `subset0…9` root (train 0–4 in the reference). */
  folds?: readonly number[];
  /** Seed of the cube sampler (`infinite_generator_3D.py` seeds with 1). */
  seed?: number;
  /** Progress messages. */
  log?: (line: string) => void;
}

/**
 * Gather pretraining cubes from files and folders: cube `.npy` files (ours or the official
 * `bat_*.npy`, shape (N, rows, cols, deps)) are read as they are; every other input is expanded by
 * volume-io's `collectVolumeInputs` (files of any format `readVolume` understands, folders searched
 * for volume files and DICOM series, LUNA16 `subset*` roots honouring `folds`) and each volume goes through
 * {@link extractCubes} with the reference generator's semantics (HU window, borders, content
 * filter, `scale` cubes per volume).
 *
 * @throws TrainError when no cube could be gathered, or a volume holds NaN/Inf voxels (named);
 *   VolumeReadError naming an input that is missing, of no known format, a folder without volumes,
 *   or an input the up-front check finds unusable (before any volume is read).
 */
export async function collectCubes(
  inputs: readonly string[],
  opts: CollectCubesOptions = {},
): Promise<CubeSet> {
  const shape: Shape3 = opts.patchSize ?? [64, 64, 32];
  const per = shape[0] * shape[1] * shape[2];
  const rng = new TransformRng(opts.seed ?? 1);
  const parts: Float32Array[] = [];
  const sources: string[] = [];
  const npy = inputs.filter((p) => p.toLowerCase().endsWith(".npy"));
  const others = inputs.filter((p) => !p.toLowerCase().endsWith(".npy"));
  // one input collection for every command: any volume format, DICOM series folders, LUNA16 roots;
  // a path it cannot use is an error naming it (VolumeReadError), never dropped. Every input is
  // checked up front (`check`: NIfTI headers, a DICOM image per series), before any cube file or
  // volume is read.
  const files =
    others.length > 0 ? await collectVolumeInputs(others, { folds: opts.folds, check: true }) : [];
  for (const file of npy) {
    const c = await readCubes(file, shape);
    parts.push(c.data);
    for (let i = 0; i < c.shape[0]; i++) sources.push(file);
  }
  const tooSmall: string[] = [];
  let filtered = 0;
  let filteredVolumes = 0;
  for (const [i, { path: file }] of files.entries()) {
    const vol = await readVolume(file);
    const bad = countNonFinite(vol);
    if (bad > 0)
      throw new TrainError(`${file}: ${bad} voxels are NaN or infinite; refusing to train on them`);
    const r = extractCubes(vol, rng, opts);
    opts.log?.(
      `[${i + 1}/${files.length}] ${file}: ${r.count} cubes${r.skipped ? ` (skipped: ${r.skipped})` : ` in ${r.attempts} attempts`}`,
    );
    if (r.skipped) tooSmall.push(`${file}: ${r.skipped}`);
    else if (r.count === 0) {
      filtered += r.attempts;
      filteredVolumes++;
    }
    if (r.count > 0) {
      parts.push(r.cubes);
      for (let i = 0; i < r.count; i++) sources.push(file);
    }
  }
  const count = sources.length;
  if (count === 0)
    throw new TrainError(noCubesMessage(shape, inputs, tooSmall, filtered, filteredVolumes, opts));
  const data = new Float32Array(count * per);
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.length;
  }
  return { data, count, shape, sources };
}

/** Why no cube came out: the cause that fired, with its counts and the flag that changes it. */
function noCubesMessage(
  shape: Shape3,
  inputs: readonly string[],
  tooSmall: string[],
  filtered: number,
  filteredVolumes: number,
  opts: CollectCubesOptions,
): string {
  const head = `no pretraining cubes of ${shape.join("×")} from ${inputs.join(", ")}`;
  const small =
    tooSmall.length > 0
      ? `${tooSmall.length} volume${tooSmall.length === 1 ? " is" : "s are"} too small for the borders (${tooSmall[0]}${tooSmall.length > 1 ? ", …" : ""}; lower --border-xy / --border-z)`
      : "";
  if (filteredVolumes === 0) return `${head}: ${small || "no volume gave a cube"}`;
  const lungMax = opts.lungMax ?? 0.15;
  const filter = `the content filter rejected all ${filtered} crops tried in ${filteredVolumes} volume${filteredVolumes === 1 ? "" : "s"} (--lung-max ${lungMax}: a crop is kept when at most ${Math.round(100 * lungMax)} % of it is tissue ≥ ${opts.huThreshold ?? -150} HU; raise --lung-max for cubes outside the lungs)`;
  return `${head}: ${filter}${small ? `; ${small}` : ""}`;
}
