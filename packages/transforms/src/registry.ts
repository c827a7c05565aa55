import { gaussianNoise, intensityScaleShift, randFlip, randRot90 } from "./augment/index.js";
import { genesisFlip } from "./genesis/flip.js";
import { localPixelShuffle } from "./genesis/localPixelShuffle.js";
import { nonlinearIntensity } from "./genesis/nonlinear.js";
import { inPaint, outPaint } from "./genesis/paint.js";
import type { GenesisConfig } from "./genesis/pair.js";
import { MIN_AXIS } from "./genesis/sizes.js";
import type { Image3D, Transform } from "./types.js";

/** Builds a transform from JSON-serialisable options. */
// biome-ignore lint/suspicious/noExplicitAny: factories take their own option types
export type TransformFactory = (options?: any) => Transform<Image3D, any>;

/** `GenesisConfig` fields holding a probability (the built-ins' named rates). */
export type GenesisRateKey = "flipRate" | "localRate" | "nonlinearRate" | "paintRate";
/** `GenesisConfig` fields holding a built-in's on/off switch. */
export type GenesisSwitchKey = "flip" | "localShuffle" | "nonlinear" | "inPaint" | "outPaint";

/**
 * How a registered transform takes part in the Models Genesis pair (pretraining). The pair is
 * built from every transform registered with a `genesis` role, stage by stage in registration
 * order: `pairwise` stages (the flip) act on input and target alike, every other stage corrupts the
 * input only. All stages draw from one generator in that order (the reference's single `random`
 * stream, `pytorch/utils.py`, `generate_pair`).
 */
export interface GenesisRole {
  /**
   * Short name used by the ablations (`genesisAblation`), the per-corruption breakdown
   * (`restorationBreakdown` in `@models-genesis/train`) and the CLI's `--transforms`, e.g.
   * `"localShuffle"`. Unique among Genesis roles.
   */
  name: string;
  /**
   * Stage the transform belongs to; default its `name`. Transforms sharing a stage are
   * alternatives: when the stage applies, one of them is chosen by `weight` (`oneOf`, one
   * `random()` draw) — the reference's in-/out-painting.
   */
  stage?: string;
  /** Reference probability that the stage applies (members of a stage register the same rate). */
  rate: number;
  /** Share within a multi-member stage (default 1); a function reads it from the config. */
  weight?: number | ((config: GenesisConfig) => number);
  /**
   * Applied to input and target alike, before the corruptions (a spatial transform). Such a stage
   * is not gated by `withProb`: its rate is handed to `options(config, rate)` and the transform
   * draws its own repeats (the reference's `while random() < flip_rate` loop). One member only.
   */
  pairwise?: boolean;
  /** Factory options for pretraining, from the pair config and the stage's resolved rate. */
  options?: (config: GenesisConfig, rate: number) => unknown;
  /** Smallest axis length the transform accepts; checked before any draw when it can apply. */
  minAxis?: number;
  /** Built-ins only: the `GenesisConfig` field holding the stage rate (contributed: `config.rates[stage]`). */
  rateKey?: GenesisRateKey;
  /** Built-ins only: the `GenesisConfig` field switching it (contributed: `config.enabled[name]`). */
  switchKey?: GenesisSwitchKey;
}

/** Tasks a registered augmentation serves by default (fine-tuning, `@models-genesis/train`). */
export type AugmentTask = "segmentation" | "classification";

/** What a transform takes part in beyond `createTransform` (see README "Contributing a transform"). */
export interface TransformRegistration {
  /** Its place in the Genesis pair; absent = not part of pretraining. */
  genesis?: GenesisRole;
  /**
   * Default fine-tuning augmentations it belongs to, with factory options. Spatial augmentations
   * are applied identically to image and mask (params drawn once).
   */
  augment?: { tasks: readonly AugmentTask[]; options?: unknown };
}

interface Entry {
  factory: TransformFactory;
  registration: TransformRegistration;
}

const registry = new Map<string, Entry>();

/**
 * Register a transform factory under `name` (the `name` its transforms report, used in
 * histories and JSON pipeline configs), with its optional roles in pretraining (`genesis`) and
 * fine-tuning (`augment`). See README "Contributing a transform".
 * @throws Error when the name is already taken, or a Genesis role name is already used.
 */
export function registerTransform(
  name: string,
  factory: TransformFactory,
  registration: TransformRegistration = {},
): void {
  if (registry.has(name))
    throw new Error(`transforms/registry: a transform named "${name}" is already registered`);
  const g = registration.genesis;
  if (g) {
    if (["all", "identity", "none"].includes(g.name) || genesisRoles().some((r) => r.role.name === g.name)) {
      throw new Error(`transforms/registry: Genesis role name "${g.name}" is reserved or already used`);
    }
    if (!(g.rate >= 0 && g.rate <= 1)) {
      throw new Error(`transforms/registry: Genesis rate of "${name}" must be in [0, 1], got ${g.rate}`);
    }
  }
  registry.set(name, { factory, registration });
}

/**
 * Remove a registered transform (e.g. a test's or an example's own registration).
 * @returns whether it was registered.
 */
export function unregisterTransform(name: string): boolean {
  cache.delete(name);
  return registry.delete(name);
}

/**
 * Create a registered transform by name, e.g. `createTransform("localPixelShuffle", { numBlocks: 500 })`.
 * @throws Error naming the unknown transform and the registered ones.
 */
// biome-ignore lint/suspicious/noExplicitAny: see TransformFactory
export function createTransform(name: string, options?: unknown): Transform<Image3D, any> {
  const e = registry.get(name);
  if (!e)
    throw new Error(
      `transforms/registry: unknown transform "${name}" (registered: ${[...registry.keys()].join(", ")})`,
    );
  return e.factory(options);
}

const cache = new Map<string, Transform<Image3D, unknown>>();

/** The transform of `name` with default options, built once (used to replay histories in the hot path). */
export function defaultTransform(name: string): Transform<Image3D, unknown> {
  let t = cache.get(name);
  if (!t) {
    t = createTransform(name);
    cache.set(name, t);
  }
  return t;
}

/** Names of all registered transforms, in registration order. */
export function registeredTransforms(): string[] {
  return [...registry.keys()];
}

/** The registration of `name` (empty roles for a plain registration). @throws Error when unknown. */
export function registrationOf(name: string): TransformRegistration {
  const e = registry.get(name);
  if (!e) throw new Error(`transforms/registry: unknown transform "${name}"`);
  return e.registration;
}

/** Every transform with a Genesis role, in registration order (= pipeline order). */
export function genesisRoles(): { transform: string; role: GenesisRole }[] {
  const out: { transform: string; role: GenesisRole }[] = [];
  for (const [transform, e] of registry)
    if (e.registration.genesis) out.push({ transform, role: e.registration.genesis });
  return out;
}

/** Registered augmentations of `task`, in registration order, with their factory options. */
export function augmentationsFor(task: AugmentTask): { transform: string; options?: unknown }[] {
  const out: { transform: string; options?: unknown }[] = [];
  for (const [transform, e] of registry) {
    const a = e.registration.augment;
    if (a?.tasks.includes(task)) out.push({ transform, options: a.options });
  }
  return out;
}

/**
 * Re-apply a recorded history entry (`{ name, params }`) with the default options of `name`'s
 * factory: deterministic, no randomness (TorchIO's replayable history).
 */
export function replay<X extends Image3D>(input: X, entry: { name: string; params: unknown }): X {
  return defaultTransform(entry.name).apply(input, entry.params) as X;
}

// Built-in transforms: one registration each. The Genesis roles carry the reference rates
// (`pytorch/config.py`: flip_rate 0.4, local_rate 0.5, nonlinear_rate 0.9, paint_rate 0.9,
// inpaint_rate 0.2 = 1 − outpaint_rate) in the reference's order (`pytorch/utils.py`, `generate_pair`).
registerTransform("genesisFlip", genesisFlip as TransformFactory, {
  genesis: {
    name: "flip",
    rate: 0.4,
    pairwise: true,
    rateKey: "flipRate",
    switchKey: "flip",
    options: (c, rate) => ({ rate, maxFlips: 3, mode: c.flipMode }),
  },
});
registerTransform("localPixelShuffle", localPixelShuffle as TransformFactory, {
  genesis: {
    name: "localShuffle",
    rate: 0.5,
    rateKey: "localRate",
    switchKey: "localShuffle",
    minAxis: MIN_AXIS.localPixelShuffle,
    options: (c) => ({ numBlocks: c.localBlocks }),
  },
});
registerTransform("nonlinearIntensity", nonlinearIntensity as TransformFactory, {
  genesis: {
    name: "nonlinear",
    rate: 0.9,
    rateKey: "nonlinearRate",
    switchKey: "nonlinear",
    options: (c) => ({ nTimes: c.bezierTimes }),
  },
});
registerTransform("inPaint", inPaint as TransformFactory, {
  genesis: {
    name: "inPaint",
    stage: "paint",
    rate: 0.9,
    weight: (c) => c.inpaintRate,
    rateKey: "paintRate",
    switchKey: "inPaint",
    minAxis: MIN_AXIS.inPaint,
  },
});
registerTransform("outPaint", outPaint as TransformFactory, {
  genesis: {
    name: "outPaint",
    stage: "paint",
    rate: 0.9,
    weight: (c) => 1 - c.inpaintRate,
    rateKey: "paintRate",
    switchKey: "outPaint",
    minAxis: MIN_AXIS.outPaint,
  },
});
registerTransform("randFlip", randFlip as TransformFactory, {
  augment: { tasks: ["segmentation", "classification"] },
});
registerTransform("randRot90", randRot90 as TransformFactory, {
  // squareSafe: quarter turns on square (x, y) planes, half turns otherwise, so shapes never change
  augment: { tasks: ["segmentation", "classification"], options: { squareSafe: true } },
});
registerTransform("intensityScaleShift", intensityScaleShift as TransformFactory);
registerTransform("gaussianNoise", gaussianNoise as TransformFactory);
