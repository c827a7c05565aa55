import { type GenesisConfig, genesisPair, Rng as TransformRng } from "@models-genesis/transforms";
import { sliceAxial } from "../../slices.js";
import type { CubeSet } from "./cubes.js";

/** `runPretraining` draws its fixed validation pairs with seed = its seed + this offset. */
export const VALIDATION_SEED_OFFSET = 7919;

/** Genesis pairs of a fixed validation set and the two baselines (identity and constant). */
export function validationPairs(
  val: CubeSet,
  seed: number,
  genesis: Partial<GenesisConfig> = {},
): { input: Float32Array; target: Float32Array; identityMse: number; constantMse: number } {
  const per = val.shape[0] * val.shape[1] * val.shape[2];
  const rng = new TransformRng(seed);
  const input = new Float32Array(val.count * per);
  const target = new Float32Array(val.count * per);
  let idSum = 0;
  let constSum = 0;
  for (let i = 0; i < val.count; i++) {
    const p = genesisPair(val.data.subarray(i * per, (i + 1) * per), val.shape, rng, genesis);
    input.set(p.input, i * per);
    target.set(p.target, i * per);
    let mean = 0;
    for (let k = 0; k < per; k++) mean += p.target[k];
    mean /= per;
    for (let k = 0; k < per; k++) {
      const d = p.input[k] - p.target[k];
      idSum += d * d;
      const c = mean - p.target[k];
      constSum += c * c;
    }
  }
  const n = val.count * per;
  return { input, target, identityMse: idSum / n, constantMse: constSum / n };
}

/**
 * The fixed validation set of a 2-D pretraining run: the Genesis pairs of {@link validationPairs}
 * (same seed, same 3-D transforms) cut into their axial slices, with both baselines computed on
 * those slices — identity = MSE(corrupted slice, original slice) (the same value as on the cubes),
 * constant = MSE of predicting each slice's own mean.
 *
 * @returns `input`, `target` float32 (count · deps, rows, cols) NHWC slices (C = 1), cube-major.
 */
export function validationSlicePairs(
  val: CubeSet,
  seed: number,
  genesis: Partial<GenesisConfig> = {},
): { input: Float32Array; target: Float32Array; count: number; identityMse: number; constantMse: number } {
  const p = validationPairs(val, seed, genesis);
  const input = sliceAxial(p.input, val.count, val.shape);
  const target = sliceAxial(p.target, val.count, val.shape);
  const plane = val.shape[0] * val.shape[1];
  const count = val.count * val.shape[2];
  let idSum = 0;
  let constSum = 0;
  for (let i = 0; i < count; i++) {
    const t = target.subarray(i * plane, (i + 1) * plane);
    const x = input.subarray(i * plane, (i + 1) * plane);
    let mean = 0;
    for (let k = 0; k < plane; k++) mean += t[k];
    mean /= plane;
    for (let k = 0; k < plane; k++) {
      idSum += (x[k] - t[k]) ** 2;
      constSum += (mean - t[k]) ** 2;
    }
  }
  return { input, target, count, identityMse: idSum / input.length, constantMse: constSum / input.length };
}
