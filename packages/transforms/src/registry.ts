import { gaussianNoise, intensityScaleShift, randFlip, randRot90 } from "./augment/index.js";
import { genesisFlip } from "./genesis/flip.js";
import { localPixelShuffle } from "./genesis/localPixelShuffle.js";
import { nonlinearIntensity } from "./genesis/nonlinear.js";
import { inPaint, outPaint } from "./genesis/paint.js";
import type { Image3D, Transform } from "./types.js";

/** Builds a transform from JSON-serialisable options. */
// biome-ignore lint/suspicious/noExplicitAny: factories take their own option types
export type TransformFactory = (options?: any) => Transform<Image3D, any>;

const registry = new Map<string, TransformFactory>();

/**
 * Register a transform factory under `name` (the `name` its transforms report, used in
 * histories and JSON pipeline configs). See README "Contributing a transform".
 * @throws Error when the name is already taken.
 */
export function registerTransform(name: string, factory: TransformFactory): void {
  if (registry.has(name))
    throw new Error(`transforms/registry: a transform named "${name}" is already registered`);
  registry.set(name, factory);
}

/**
 * Create a registered transform by name, e.g. `createTransform("localPixelShuffle", { numBlocks: 500 })`.
 * @throws Error naming the unknown transform and the registered ones.
 */
// biome-ignore lint/suspicious/noExplicitAny: see TransformFactory
export function createTransform(name: string, options?: unknown): Transform<Image3D, any> {
  const f = registry.get(name);
  if (!f)
    throw new Error(
      `transforms/registry: unknown transform "${name}" (registered: ${[...registry.keys()].join(", ")})`,
    );
  return f(options);
}

/** Names of all registered transforms. */
export function registeredTransforms(): string[] {
  return [...registry.keys()];
}

/**
 * Re-apply a recorded history entry (`{ name, params }`) with the default options of `name`'s
 * factory: deterministic, no randomness (TorchIO's replayable history).
 */
export function replay<X extends Image3D>(input: X, entry: { name: string; params: unknown }): X {
  return createTransform(entry.name).apply(input, entry.params) as X;
}

// Built-in transforms: one line each.
registerTransform("genesisFlip", genesisFlip as TransformFactory);
registerTransform("localPixelShuffle", localPixelShuffle as TransformFactory);
registerTransform("nonlinearIntensity", nonlinearIntensity as TransformFactory);
registerTransform("inPaint", inPaint as TransformFactory);
registerTransform("outPaint", outPaint as TransformFactory);
registerTransform("randFlip", randFlip as TransformFactory);
registerTransform("randRot90", randRot90 as TransformFactory);
registerTransform("intensityScaleShift", intensityScaleShift as TransformFactory);
registerTransform("gaussianNoise", gaussianNoise as TransformFactory);
