import { collectVolumeInputs, readNpy, type VoxelArray, windowFunction } from "@models-genesis/volume-io";
import type { Rng } from "./rng.js";
import type { Shape3 } from "./types.js";

/**
 * Options of {@link extractCubes}. Defaults are the reference generator's
 * (`infinite_generator_3D.py`, `setup_config`): 64 × 64 × 32 cubes, HU window [−1000, 1000],
 * in-plane border 100, z border 30, 3-slice lookahead, −150 HU threshold, 0.15 limit,
 * 32 cubes per volume, give up after 50 × scale attempts.
 */
export interface CubeExtractionOptions {
  /** Cubes wanted per volume (`--scale`, paper: 32). */
  scale?: number;
  /**
   * Cube (pretraining patch) size in voxels, x/y/z = (rows, cols, deps); default (64, 64, 32)
   * (`input_rows/cols/deps`). The project's one name for a model's input patch (formerly `cubeShape`).
   */
  patchSize?: Shape3;
  /** In-plane border in voxels kept free on each side (`len_border`, 100). */
  borderXY?: number;
  /** Border in slices along z (`len_border_z`, 30). */
  borderZ?: number;
  /** Lookahead slices of the content filter (`len_depth`, 3). */
  lenDepth?: number;
  /** HU window (`hu_min`, `hu_max`) = (−1000, 1000). */
  huMin?: number;
  huMax?: number;
  /** Content threshold in HU (−150; `HU_thred` = (−150 − hu_min) / (hu_max − hu_min) = 0.425). */
  huThreshold?: number;
  /** Reject a crop when the summed depth score exceeds this fraction of the cube (`lung_max`, 0.15). */
  lungMax?: number;
  /** Attempts per volume = attemptsPerCube × scale (50). */
  attemptsPerCube?: number;
}

const DEFAULTS: Required<CubeExtractionOptions> = {
  scale: 32,
  patchSize: [64, 64, 32],
  borderXY: 100,
  borderZ: 30,
  lenDepth: 3,
  huMin: -1000,
  huMax: 1000,
  huThreshold: -150,
  lungMax: 0.15,
  attemptsPerCube: 50,
};

/** Result of {@link extractCubes} for one volume. */
export interface CubeExtraction {
  /** `count` cubes, float32 in [0, 1], C order (N, rows, cols, deps). */
  cubes: Float32Array;
  count: number;
  /** Crop attempts made. */
  attempts: number;
  /** Why the volume gave nothing without trying (too small for the borders); absent otherwise. */
  skipped?: string;
  /** Corner (x, y, z) of each kept cube, in voxels of the volume. */
  corners: [number, number, number][];
}

/** A volume-like input: C-order (x, y, z) voxels in HU, single channel (a `Volume` fits). */
export interface HuVolume {
  data: VoxelArray;
  shape: Shape3 | readonly number[];
  channels?: number;
}

/**
 * Extract pretraining cubes from one CT volume with the reference generator's semantics
 * (`infinite_generator_3D.py`, `infinite_generator_from_one_volume`):
 *
 * 1. If `nz − deps − lenDepth − 1 − borderZ < borderZ` the volume is skipped (likewise in-plane,
 *    where the reference would crash in `randint`).
 * 2. Repeat up to `attemptsPerCube × scale` times: corner `x = randint(borderXY, nx − rows − 1 − borderXY)`,
 *    `y` likewise, `z = randint(borderZ, nz − deps − lenDepth − 1 − borderZ)` (inclusive ends, drawn
 *    in that order); window = `rows × cols × (deps + lenDepth)` voxels, clipped to the HU window and
 *    scaled to [0, 1] (float64, as the reference).
 * 3. Content filter: for each (i, j, d < deps), k = first of 0…lenDepth−1 with
 *    window[i, j, d + k] ≥ t, t = (huThreshold − huMin)/(huMax − huMin) (k = lenDepth − 1 if
 *    none); score = 1 − k/(lenDepth − 1). Reject when Σ score > lungMax · rows · cols · deps.
 * 4. Keep the first `deps` slices of the window as a cube; stop at `scale` cubes.
 *
 * @param volume HU values, shape (nx, ny, nz), one channel.
 * @param rng the generator (the reference seeds Python's `random` with 1 once for the whole run).
 * @throws Error when the volume has more than one channel or its data length mismatches its shape.
 */
export function extractCubes(
  volume: HuVolume,
  rng: Rng,
  options: CubeExtractionOptions = {},
): CubeExtraction {
  const o = { ...DEFAULTS, ...options };
  const [nx, ny, nz] = volume.shape;
  const [rows, cols, deps] = o.patchSize;
  if ((volume.channels ?? 1) !== 1) {
    throw new Error(
      `transforms/extractCubes: volume has ${volume.channels} channels; cube extraction needs one`,
    );
  }
  if (volume.data.length !== nx * ny * nz) {
    throw new Error(
      `transforms/extractCubes: data length ${volume.data.length} does not match shape [${nx}, ${ny}, ${nz}]`,
    );
  }
  if (o.lenDepth < 2) throw new Error(`transforms/extractCubes: lenDepth must be ≥ 2, got ${o.lenDepth}`);
  const cubeSize = rows * cols * deps;
  const empty = (skipped?: string): CubeExtraction => ({
    cubes: new Float32Array(0),
    count: 0,
    attempts: 0,
    corners: [],
    ...(skipped ? { skipped } : {}),
  });
  const depth = deps + o.lenDepth;
  const zHi = nz - deps - o.lenDepth - 1 - o.borderZ;
  if (zHi < o.borderZ) {
    return empty(
      `${nz} slices is too thin for ${deps}+${o.lenDepth} slices with a z border of ${o.borderZ} (needs ≥ ${deps + o.lenDepth + 1 + 2 * o.borderZ})`,
    );
  }
  const xHi = nx - rows - 1 - o.borderXY;
  const yHi = ny - cols - 1 - o.borderXY;
  if (xHi < o.borderXY || yHi < o.borderXY) {
    return empty(
      `${nx}×${ny} in-plane is too small for ${rows}×${cols} crops with a border of ${o.borderXY} (needs ≥ ${rows + 1 + 2 * o.borderXY} per axis)`,
    );
  }

  const { huMin, huMax } = o;
  const range = huMax - huMin;
  const thr = (o.huThreshold - huMin) / range;
  const limit = o.lungMax * rows * cols * deps;
  const kMax = o.lenDepth - 1;
  const data = volume.data as ArrayLike<number>;
  const cubes = new Float32Array(o.scale * cubeSize);
  const corners: [number, number, number][] = [];
  const maxAttempts = o.attemptsPerCube * o.scale;
  let count = 0;
  let attempts = 0;
  const unit = windowFunction([huMin, huMax]); // the one window of volume-io; NaN stays NaN (never dense)
  // unit() is monotone, so `unit(v) ≥ thr` ⇔ `v ≥ cutoff` for integer voxel types, with cutoff the
  // smallest integer passing the float64 test (found exactly by bisection); floats test unit() itself.
  const isInt = !(volume.data instanceof Float32Array || volume.data instanceof Float64Array);
  let cutoff = Number.POSITIVE_INFINITY;
  if (isInt) {
    let lo = -2147483648;
    let hi = 2147483647;
    if (unit(hi) < thr) cutoff = Number.POSITIVE_INFINITY;
    else {
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        if (unit(mid) >= thr) hi = mid;
        else lo = mid + 1;
      }
      cutoff = lo;
    }
  }
  const isDense = (v: number) => (isInt ? v >= cutoff : unit(v) >= thr);
  // Per-voxel filter score c(z) = kMax − (first k < lenDepth with voxel z+k dense, else kMax), summed
  // along z in lazily built per-column prefix sums over the region crops can reach, so one attempt
  // costs rows·cols lookups instead of rows·cols·(deps+lenDepth) voxel reads. Same integers, same
  // decisions as the reference's loop. Falls back to direct scanning if the table would be large.
  const rx0 = o.borderXY;
  const ry0 = o.borderXY;
  const rnx = xHi + rows - rx0;
  const rny = yHi + cols - ry0;
  const rz0 = o.borderZ;
  const rnz = zHi - rz0 + deps;
  const tableLen = rnx * rny * (rnz + 1);
  const useTable = tableLen <= 64 * 1024 * 1024;
  const prefix = useTable
    ? kMax * rnz <= 65535
      ? new Uint16Array(tableLen)
      : new Uint32Array(tableLen)
    : null;
  const built = useTable ? new Uint8Array(rnx * rny) : null;
  const dense = new Uint8Array(Math.max(depth, rnz + kMax));
  /** Σ c(z) for z in [z0, z0 + deps) of column (x, y). */
  const columnScore = (x: number, y: number, z0: number): number => {
    const base = (x * ny + y) * nz;
    if (!prefix || !built) {
      for (let d = 0; d < depth; d++) dense[d] = isDense(data[base + z0 + d]) ? 1 : 0;
      let s = 0;
      for (let d = 0; d < deps; d++) {
        let k = kMax;
        for (let kk = 0; kk < o.lenDepth; kk++) {
          if (dense[d + kk] === 1) {
            k = kk;
            break;
          }
        }
        s += kMax - k;
      }
      return s;
    }
    const col = (x - rx0) * rny + (y - ry0);
    const p0 = col * (rnz + 1);
    if (built[col] === 0) {
      const n = rnz + kMax;
      for (let t = 0; t < n; t++) dense[t] = isDense(data[base + rz0 + t]) ? 1 : 0;
      let acc = 0;
      prefix[p0] = 0;
      for (let t = 0; t < rnz; t++) {
        let k = kMax;
        for (let kk = 0; kk < o.lenDepth; kk++) {
          if (dense[t + kk] === 1) {
            k = kk;
            break;
          }
        }
        acc += kMax - k;
        prefix[p0 + t + 1] = acc;
      }
      built[col] = 1;
    }
    return prefix[p0 + z0 - rz0 + deps] - prefix[p0 + z0 - rz0];
  };

  while (count < o.scale && attempts < maxAttempts) {
    attempts++;
    const sx = rng.randint(o.borderXY, xHi);
    const sy = rng.randint(o.borderXY, yHi);
    const sz = rng.randint(o.borderZ, zHi);
    // content filter: Σ score·kMax accumulated in integers (scores are multiples of 1/kMax)
    let score = 0;
    let rejected = false;
    for (let i = 0; i < rows && !rejected; i++) {
      for (let j = 0; j < cols; j++) {
        score += columnScore(sx + i, sy + j, sz);
        if (score / kMax > limit) {
          rejected = true;
          break;
        }
      }
    }
    if (rejected) continue;
    const out = count * cubeSize;
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const base = ((sx + i) * ny + (sy + j)) * nz + sz;
        const ob = out + (i * cols + j) * deps;
        for (let d = 0; d < deps; d++) cubes[ob + d] = unit(data[base + d]);
      }
    }
    corners.push([sx, sy, sz]);
    count++;
  }
  return { cubes: cubes.slice(0, count * cubeSize), count, attempts, corners };
}

/**
 * Read a cube file: our `genesis cubes` output (float32) or an official `bat_*.npy` (float64),
 * shape (N, rows, cols, deps) — or (N, 1, rows, cols, deps) — returned as float32 (N, rows, cols, deps).
 *
 * @param expected cube shape (rows, cols, deps); default (64, 64, 32).
 * @throws Error naming the file when the dtype is not float32/float64 or the shape does not match.
 */
export async function readCubes(
  file: string,
  expected: Shape3 = [64, 64, 32],
): Promise<{ data: Float32Array; shape: [number, number, number, number] }> {
  const arr = await readNpy(file);
  let shape = arr.shape;
  if (shape.length === 5 && shape[1] === 1) shape = [shape[0], shape[2], shape[3], shape[4]];
  if (
    shape.length !== 4 ||
    shape[1] !== expected[0] ||
    shape[2] !== expected[1] ||
    shape[3] !== expected[2]
  ) {
    throw new Error(
      `${file}: cube file must have shape (N, ${expected.join(", ")}), got (${arr.shape.join(", ")})`,
    );
  }
  if (arr.dtype !== "float32" && arr.dtype !== "float64") {
    throw new Error(`${file}: cube file must be float32 or float64, got ${arr.dtype}`);
  }
  const data = arr.data instanceof Float32Array ? arr.data : Float32Array.from(arr.data as Float64Array);
  return { data, shape: [shape[0], shape[1], shape[2], shape[3]] };
}

/**
 * Expand the inputs of `genesis cubes` into volume paths: `collectVolumeInputs` of volume-io (the one
 * input collection of every command: files of any format, folders searched recursively for volume
 * files and DICOM series, LUNA16 `subset*` roots by `folds`), returning each input's path — a
 * DICOM series as its folder, which `readVolume` reads.
 *
 * @deprecated use `collectVolumeInputs` from `@models-genesis/volume-io`.
 * @throws VolumeReadError naming a path that does not exist, a file of no known format, a folder
 *   without any volume, or a requested fold folder that is missing.
 */
export async function listVolumeFiles(
  inputs: readonly string[],
  folds?: readonly number[],
): Promise<string[]> {
  return (await collectVolumeInputs(inputs, { folds })).map((v) => v.path);
}
