import type { Rng } from "./rng.js";
import type { AppliedTransform, Image3D, Shape3, Transform } from "./types.js";

/** The recorded history of one params object of transform `t` (leaves: `[{ name, params }]`). */
export function historyOf<X, P>(t: Transform<X, P>, params: P): AppliedTransform[] {
  return t.history ? t.history(params) : [{ name: t.name, params }];
}

/** Output shape of `t` for `shape` and `params` (identity when the transform keeps shapes). */
export function outputShapeOf<X, P>(t: Transform<X, P>, shape: Shape3, params: P): Shape3 {
  return t.outputShape ? t.outputShape(shape, params) : shape;
}

/**
 * Write `t.apply({ data: src, shape }, params).data` into `dst`: the transform's `applyInto` fast
 * path when it has one, else `apply` and a copy. `src` and `dst` may be the same array.
 * @param shape spatial shape (x, y, z) of `src`; the transform must keep it.
 * @throws Error when the output length differs from `dst`'s (a shape-changing transform).
 */
export function applyIntoOf<P>(
  t: Transform<Image3D, P>,
  src: Float32Array,
  dst: Float32Array,
  shape: Shape3,
  params: P,
): void {
  if (t.applyInto) {
    t.applyInto(src, dst, shape, params);
    return;
  }
  const out = t.apply({ data: src, shape }, params).data;
  if (out.length !== dst.length) {
    throw new Error(`transforms/applyInto: "${t.name}" gave ${out.length} values, expected ${dst.length}`);
  }
  dst.set(out);
}

/** Result of {@link run}: the output, the drawn params and the flat history of applied transforms. */
export interface RunResult<X, P> {
  output: X;
  params: P;
  history: AppliedTransform[];
}

/**
 * Sample params for `t` from `rng`, apply them, and record what was applied.
 * @param shape spatial shape (x, y, z) of `input`.
 */
export function run<X, P>(t: Transform<X, P>, input: X, shape: Shape3, rng: Rng): RunResult<X, P> {
  const params = t.sample(rng, shape);
  return { output: t.apply(input, params), params, history: historyOf(t, params) };
}

/**
 * Apply transforms in sequence. Each member samples from its own child generator
 * (`rng.fork()`, in member order), as MONAI's `Compose.set_random_state` derives child seeds, so
 * one seed reproduces the whole pipeline and a member's draws do not depend on how many draws
 * the members before it made. Params: one entry per member.
 */
export function compose<X>(
  transforms: readonly Transform<X, unknown>[],
  name = "compose",
): Transform<X, unknown[]> {
  return {
    name,
    kind: transforms.every((t) => t.kind === "intensity") ? "intensity" : "spatial",
    sample(rng, shape) {
      const out: unknown[] = [];
      let s = shape;
      for (const t of transforms) {
        const p = t.sample(rng.fork(), s);
        out.push(p);
        s = outputShapeOf(t, s, p);
      }
      return out;
    },
    apply(input, params) {
      let x = input;
      transforms.forEach((t, i) => {
        x = t.apply(x, params[i]);
      });
      return x;
    },
    outputShape(shape, params) {
      let s = shape;
      transforms.forEach((t, i) => {
        s = outputShapeOf(t, s, params[i]);
      });
      return s;
    },
    history(params) {
      return transforms.flatMap((t, i) => historyOf(t, params[i]));
    },
    inverse(output, params) {
      let x = output;
      for (let i = transforms.length - 1; i >= 0; i--) x = invert(transforms[i], x, params[i]);
      return x;
    },
  };
}

/**
 * Undo transform `t` on `output`: its `inverse` when it has one; intensity transforms are
 * skipped (TorchIO inverts only the invertible, spatial part of a history).
 * @throws Error when a spatial transform has no inverse.
 */
export function invert<X, P>(t: Transform<X, P>, output: X, params: P): X {
  if (t.inverse) return t.inverse(output, params);
  if (t.kind === "intensity") return output;
  throw new Error(`transforms/invert: spatial transform "${t.name}" has no inverse`);
}

/** Params of {@link withProb}: whether the inner transform was applied and, if so, its params. */
export interface WithProbParams<P> {
  applied: boolean;
  params?: P;
}

/**
 * Apply `t` with probability `p`: one `rng.random() < p` draw, then (if applied) `t.sample`
 * from the same stream — the draw order of the reference's `if random.random() < rate:` blocks.
 * @throws Error when p is outside [0, 1].
 */
export function withProb<X, P>(p: number, t: Transform<X, P>): Transform<X, WithProbParams<P>> {
  if (!(p >= 0 && p <= 1)) throw new Error(`transforms/withProb: probability must be in [0, 1], got ${p}`);
  return {
    name: `withProb(${t.name})`,
    kind: t.kind,
    sample(rng, shape) {
      if (!(rng.random() < p)) return { applied: false };
      return { applied: true, params: t.sample(rng, shape) };
    },
    apply(input, params) {
      return params.applied ? t.apply(input, params.params as P) : input;
    },
    outputShape(shape, params) {
      return params.applied ? outputShapeOf(t, shape, params.params as P) : shape;
    },
    history(params) {
      return params.applied ? historyOf(t, params.params as P) : [];
    },
    inverse(output, params) {
      return params.applied ? invert(t, output, params.params as P) : output;
    },
    applyInto(src, dst, shape, params) {
      if (params.applied)
        applyIntoOf(t as unknown as Transform<Image3D, P>, src, dst, shape, params.params as P);
      else if (src !== dst) dst.set(src);
    },
  };
}

/** Params of {@link oneOf}: index of the chosen member and its params. */
export interface OneOfParams {
  index: number;
  params: unknown;
}

/**
 * Apply exactly one member, chosen with probability proportional to its weight: one
 * `rng.random()` draw, then the chosen member samples from the same stream.
 * Genesis painting is `withProb(0.9, oneOf([[0.2, inPaint], [0.8, outPaint]]))`.
 * @throws Error when the list is empty or a weight is negative / all weights are zero.
 */
export function oneOf<X>(
  members: readonly (readonly [number, Transform<X, unknown>])[],
): Transform<X, OneOfParams> {
  if (members.length === 0) throw new Error("transforms/oneOf: needs at least one transform");
  const total = members.reduce((s, [w]) => s + w, 0);
  if (members.some(([w]) => !(w >= 0)) || !(total > 0)) {
    throw new Error("transforms/oneOf: weights must be non-negative with a positive sum");
  }
  return {
    name: "oneOf",
    kind: members.every(([, t]) => t.kind === "intensity") ? "intensity" : "spatial",
    sample(rng, shape) {
      const r = rng.random() * total;
      let acc = 0;
      let index = members.length - 1;
      for (let i = 0; i < members.length; i++) {
        acc += members[i][0];
        if (r < acc) {
          index = i;
          break;
        }
      }
      return { index, params: members[index][1].sample(rng, shape) };
    },
    apply(input, params) {
      return members[params.index][1].apply(input, params.params);
    },
    outputShape(shape, params) {
      return outputShapeOf(members[params.index][1], shape, params.params);
    },
    history(params) {
      return historyOf(members[params.index][1], params.params);
    },
    inverse(output, params) {
      return invert(members[params.index][1], output, params.params);
    },
    applyInto(src, dst, shape, params) {
      const t = members[params.index][1] as unknown as Transform<Image3D, unknown>;
      applyIntoOf(t, src, dst, shape, params.params);
    },
  };
}
