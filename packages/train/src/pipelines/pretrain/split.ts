import { Rng as TransformRng } from "@models-genesis/transforms";
import { TrainError } from "../../errors.js";
import type { CubeSet } from "./cubes.js";

/**
 * Split cubes into training and validation by source file (patient level: no volume contributes to
 * both), taking whole volumes for validation in a seeded order until at least `valFraction` of the
 * cubes (and one volume) are held out. With a single source, cubes are split instead.
 *
 * @returns the two sets and `valIndices`, the validation cubes' indices in `cubes` (ascending), which
 *   a run plan records so that `--resume` takes the same split ({@link splitCubesByIndices}).
 */
export function splitCubesBySource(
  cubes: CubeSet,
  valFraction: number,
  seed: number,
): { train: CubeSet; val: CubeSet; valIndices: number[] } {
  const uniq = [...new Set(cubes.sources)];
  const rng = new TransformRng(seed);
  const isVal = new Uint8Array(cubes.count);
  if (uniq.length >= 2) {
    const order = uniq.slice();
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.randint(0, i);
      [order[i], order[j]] = [order[j], order[i]];
    }
    const valSet = new Set<string>();
    let n = 0;
    for (const s of order) {
      if (valSet.size >= 1 && n >= valFraction * cubes.count) break;
      if (valSet.size === order.length - 1) break;
      valSet.add(s);
      n += cubes.sources.filter((x) => x === s).length;
    }
    cubes.sources.forEach((s, i) => {
      isVal[i] = valSet.has(s) ? 1 : 0;
    });
  } else {
    const nVal = Math.max(1, Math.round(valFraction * cubes.count));
    const idx = Array.from({ length: cubes.count }, (_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rng.randint(0, i);
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    for (const i of idx.slice(0, nVal)) isVal[i] = 1;
  }
  const valIndices = [...isVal.keys()].filter((i) => isVal[i] === 1);
  return { ...splitCubesByIndices(cubes, valIndices), valIndices };
}

/**
 * Split cubes by a recorded list of validation cube indices (a run plan's `split.val_cubes`); the
 * others, in order, are the training cubes.
 * @throws TrainError when an index is not an integer in 0…count−1 or repeats.
 */
export function splitCubesByIndices(
  cubes: CubeSet,
  valIndices: readonly number[],
): { train: CubeSet; val: CubeSet } {
  const per = cubes.shape[0] * cubes.shape[1] * cubes.shape[2];
  const isVal = new Uint8Array(cubes.count);
  for (const i of valIndices) {
    if (!Number.isInteger(i) || i < 0 || i >= cubes.count || isVal[i] === 1)
      throw new TrainError(`validation cube index ${i} is not one of ${cubes.count} cubes (or repeats)`);
    isVal[i] = 1;
  }
  const take = (flag: number): CubeSet => {
    const ids = [...isVal.keys()].filter((i) => isVal[i] === flag);
    const data = new Float32Array(ids.length * per);
    ids.forEach((i, k) => {
      data.set(cubes.data.subarray(i * per, (i + 1) * per), k * per);
    });
    return { data, count: ids.length, shape: cubes.shape, sources: ids.map((i) => cubes.sources[i]) };
  };
  return { train: take(0), val: take(1) };
}
