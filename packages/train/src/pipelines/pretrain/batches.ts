import { type GenesisConfig, genesisPair, Rng as TransformRng } from "@models-genesis/transforms";
import { arrayBatchSource, type Batch, type BatchSource } from "../../data.js";
import { TrainError } from "../../errors.js";
import type { Rng } from "../../rng.js";
import { sliceAxial } from "../../slices.js";
import type { CubeSet } from "./cubes.js";

/** Options of {@link genesisSliceSource}. */
export interface GenesisSliceSourceOptions {
  /** Training cubes (N, rows, cols, deps) in [0, 1]. */
  cubes: CubeSet;
  /** Slices per batch. */
  batchSize: number;
  /** Axial slices drawn per cube and epoch, 1…deps (default deps: all). */
  slicesPerCube?: number;
  genesis?: Partial<GenesisConfig>;
}

/**
 * Training batches of 2-D Genesis pairs for the slice-wise 2-D U-Net (Models Genesis 2D, Zhou et al.
 * MedIA 2021): every epoch, the cubes are shuffled; each cube gets one fresh 3-D Genesis pair
 * (`genesisPair`, the same transforms and rates as 3-D pretraining, seeded from the epoch rng in
 * order) and `slicesPerCube` of its axial (depth) slices are drawn without replacement. Cubes are
 * taken in groups of `batchSize`; a group's slices are shuffled together and cut into batches, so a
 * batch mixes up to `batchSize` cubes. An incomplete last batch is dropped.
 *
 * Batches: x = corrupted slices, y = original slices, both (B, rows, cols, 1) NHWC (H = rows,
 * W = cols). Deterministic given the epoch rng (resumable). The slices inherit the 3-D transforms'
 * geometry: a local-shuffling block mixes voxels of neighbouring slices, and a slice outside every
 * out-painting window is noise only (its target is still the original slice).
 *
 * @throws TrainError when `slicesPerCube` is not in 1…deps or the cubes make no batch.
 */
export function genesisSliceSource(o: GenesisSliceSourceOptions): BatchSource {
  const { cubes, batchSize } = o;
  const [rows, cols, deps] = cubes.shape;
  const plane = rows * cols;
  const per = plane * deps;
  const k = o.slicesPerCube ?? deps;
  if (!Number.isInteger(k) || k < 1 || k > deps) {
    throw new TrainError(`pretraining: slicesPerCube must be an integer in 1…${deps}, got ${k}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new TrainError(`pretraining: batch size must be a positive integer, got ${batchSize}`);
  const n = cubes.count;
  const full = Math.floor(n / batchSize);
  const length = full * k + Math.floor(((n % batchSize) * k) / batchSize);
  if (length === 0) {
    throw new TrainError(`pretraining: ${n} cubes × ${k} slices make no batch of ${batchSize} slices`);
  }
  const genesis = o.genesis ?? {};
  return {
    length,
    *batches(_epoch: number, rng: Rng): Iterable<Batch> {
      const order = rng.shuffle(Uint32Array.from({ length: n }, (_, i) => i));
      for (let g = 0; g < n; g += batchSize) {
        const group = order.subarray(g, Math.min(n, g + batchSize));
        const xs: Float32Array[] = [];
        const ys: Float32Array[] = [];
        for (const c of group) {
          const p = genesisPair(
            cubes.data.subarray(c * per, (c + 1) * per),
            cubes.shape,
            new TransformRng(rng.childSeed()),
            genesis,
          );
          const depths = rng.shuffle(Uint32Array.from({ length: deps }, (_, d) => d)).subarray(0, k);
          const sx = sliceAxial(p.input, 1, cubes.shape);
          const sy = sliceAxial(p.target, 1, cubes.shape);
          for (const d of depths) {
            xs.push(sx.subarray(d * plane, (d + 1) * plane));
            ys.push(sy.subarray(d * plane, (d + 1) * plane));
          }
        }
        const idx = rng.shuffle(Uint32Array.from({ length: xs.length }, (_, i) => i));
        for (let b = 0; b + batchSize <= idx.length; b += batchSize) {
          const x = new Float32Array(batchSize * plane);
          const y = new Float32Array(batchSize * plane);
          for (let j = 0; j < batchSize; j++) {
            x.set(xs[idx[b + j]], j * plane);
            y.set(ys[idx[b + j]], j * plane);
          }
          yield { x, y, xShape: [batchSize, rows, cols, 1], yShape: [batchSize, rows, cols, 1] };
        }
      }
    },
  };
}

/** Options of {@link genesisCubeSource}. */
export interface GenesisCubeSourceOptions {
  /** Training cubes (N, rows, cols, deps) in [0, 1]. */
  cubes: CubeSet;
  /** Cubes per batch. */
  batchSize: number;
  genesis?: Partial<GenesisConfig>;
}

/**
 * Training batches of 3-D Genesis pairs: every epoch the cubes are shuffled and each one becomes a
 * fresh Genesis pair (`genesisPair`, seeded from the epoch rng in order, so resumable). Batches:
 * x = corrupted cubes, y = original cubes, both (B, rows, cols, deps, 1) NDHWC; an incomplete last
 * batch is dropped.
 */
export function genesisCubeSource(o: GenesisCubeSourceOptions): BatchSource {
  const { cubes, batchSize } = o;
  const shape = cubes.shape;
  const genesis = o.genesis ?? {};
  return arrayBatchSource({
    x: cubes.data,
    y: cubes.data,
    sampleShapeX: [...shape, 1],
    sampleShapeY: [...shape, 1],
    batchSize,
    transform: (x, _y, rng) => {
      const p = genesisPair(x, shape, new TransformRng(rng.childSeed()), genesis);
      return { x: p.input, y: p.target };
    },
  });
}
