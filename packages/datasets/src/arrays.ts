import type { Vec3 } from "@models-genesis/volume-io";

/**
 * Model-ready arrays: the hand-over point between a dataset and training.
 *
 * `x` is NDHWC `(N, X, Y, Z, 1)` float32 in [0, 1] (C order, channel last — a TF.js tensor without
 * transpose). For segmentation `y` is `(N, X, Y, Z, 1)` with 0/1 voxels; for classification `y` is
 * `(N, 1)` with 0/1 labels. `ids[i]` names where sample `i` came from (case, candidate, patch).
 */
export interface SampleArrays {
  readonly x: Float32Array;
  readonly xShape: [number, number, number, number, number];
  readonly y: Float32Array;
  readonly yShape: [number, number, number, number, number] | [number, number];
  readonly ids: string[];
}

/** Train / validation / test arrays of one task (one fold for cross-validated tasks). */
export interface TaskArrays {
  readonly train: SampleArrays;
  readonly val: SampleArrays;
  readonly test: SampleArrays;
}

/** One prepared sample: a cube (C order over `size`) and its target (a cube of the same size, or a 0/1 label). */
export interface Sample {
  readonly id: string;
  readonly x: Float32Array;
  readonly y: Float32Array | number;
}

/**
 * Stack samples of spatial size `size` into `SampleArrays`. Targets must all be cubes (segmentation)
 * or all be numbers (classification).
 *
 * @throws Error when a cube has the wrong length or targets are mixed.
 */
export function stackSamples(samples: readonly Sample[], size: Vec3): SampleArrays {
  const per = size[0] * size[1] * size[2];
  const n = samples.length;
  const x = new Float32Array(n * per);
  const seg = n > 0 && typeof samples[0].y !== "number";
  const y = new Float32Array(seg ? n * per : n);
  samples.forEach((s, i) => {
    if (s.x.length !== per)
      throw new Error(
        `stackSamples: sample ${s.id} has ${s.x.length} voxels, expected ${size.join("×")} = ${per}`,
      );
    x.set(s.x, i * per);
    if (seg) {
      if (typeof s.y === "number" || s.y.length !== per)
        throw new Error(`stackSamples: sample ${s.id} target is not a ${size.join("×")} cube`);
      y.set(s.y, i * per);
    } else {
      if (typeof s.y !== "number")
        throw new Error(`stackSamples: sample ${s.id} has a cube target among label targets`);
      y[i] = s.y;
    }
  });
  return {
    x,
    xShape: [n, size[0], size[1], size[2], 1],
    y,
    yShape: seg ? [n, size[0], size[1], size[2], 1] : [n, 1],
    ids: samples.map((s) => s.id),
  };
}

/** A one-line description of arrays for logs: `N=…, x (N,X,Y,Z,1), positives/foreground fraction`. */
export function describeArrays(name: string, a: SampleArrays): string {
  let pos = 0;
  for (let i = 0; i < a.y.length; i++) pos += a.y[i] > 0.5 ? 1 : 0;
  const what =
    a.yShape.length === 2
      ? `${pos} positive`
      : `foreground ${((100 * pos) / Math.max(1, a.y.length)).toFixed(2)}%`;
  return `${name}: ${a.xShape[0]} samples, x (${a.xShape.join(",")}), ${what}`;
}

/**
 * The samples of `a` whose id is in `keep`, in their order (shapes as `a`'s with N = kept count).
 * Returns `a` itself when every sample is kept.
 */
export function takeSamples(a: SampleArrays, keep: ReadonlySet<string>): SampleArrays {
  const idx = a.ids.flatMap((id, i) => (keep.has(id) ? [i] : []));
  if (idx.length === a.ids.length) return a;
  const xPer = a.x.length / Math.max(1, a.ids.length);
  const yPer = a.y.length / Math.max(1, a.ids.length);
  const x = new Float32Array(idx.length * xPer);
  const y = new Float32Array(idx.length * yPer);
  idx.forEach((i, k) => {
    x.set(a.x.subarray(i * xPer, (i + 1) * xPer), k * xPer);
    y.set(a.y.subarray(i * yPer, (i + 1) * yPer), k * yPer);
  });
  const n = idx.length;
  return {
    x,
    xShape: [n, ...a.xShape.slice(1)] as SampleArrays["xShape"],
    y,
    yShape: [n, ...a.yShape.slice(1)] as SampleArrays["yShape"],
    ids: idx.map((i) => a.ids[i]),
  };
}
