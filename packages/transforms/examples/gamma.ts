// Example of a contributed transform (README "Contributing a transform"). In the package, the
// factory goes to its own file under `src/` and the `registerTransform` call to `src/registry.ts`.
import {
  checkImage,
  type FloatImage,
  registerTransform,
  type Transform,
  type TransformFactory,
} from "../src/index.js";

/** Params of {@link randGamma}: the exponent drawn. */
export interface GammaParams {
  gamma: number;
}

/**
 * Random gamma corruption: v ↦ v^γ with γ uniform in [0.5, 2] (values in [0, 1] stay in [0, 1]).
 * Input: a float32 image (x, y, z), any shape; shape kept. Intensity-only (skips labels).
 */
export function randGamma(
  options: { range?: readonly [number, number] } = {},
): Transform<FloatImage, GammaParams> {
  const [lo, hi] = options.range ?? [0.5, 2];
  return {
    name: "randGamma",
    kind: "intensity",
    sample: (rng) => ({ gamma: rng.uniform(lo, hi) }), // every random decision from `rng`
    apply(input, params) {
      checkImage("randGamma", input);
      const out = new Float32Array(input.data.length);
      for (let i = 0; i < out.length; i++) out[i] = Math.max(0, input.data[i]) ** params.gamma;
      return { ...input, data: out };
    },
  };
}

// One registration: a Genesis corruption applied with probability 0.3 after the built-ins. It is
// now in `genesisPair`, `genesisAblation("gamma")`, the CLI's `--transforms gamma`, and the
// per-corruption breakdown (`restorationBreakdown`) of `@models-genesis/train`.
registerTransform("randGamma", randGamma as TransformFactory, { genesis: { name: "gamma", rate: 0.3 } });
