import type { GenesisUNet } from "@models-genesis/models";
import {
  type GenesisConfig,
  genesisAblation,
  genesisCorruptions,
  genesisIsolation,
} from "@models-genesis/transforms";
import { TrainError } from "../errors.js";
import { predictArrays } from "./finetune.js";
import { type CubeSet, VALIDATION_SEED_OFFSET, validationPairs } from "./pretrain.js";

/**
 * The cases {@link restorationBreakdown} scores a model on, one at a time, from the transforms
 * registry: `all`, every registered Genesis corruption (`genesisCorruptions()`: with the built-ins
 * `nonlinear`, `localShuffle`, `inPaint`, `outPaint`), then `none`. A contributed corruption
 * gets its case by being registered.
 */
export function restorationCases(): string[] {
  return ["all", ...genesisCorruptions(), "none"];
}

/** The built-in cases, as they stand without contributed transforms (see {@link restorationCases}). */
export const RESTORATION_CASES: readonly string[] = restorationCases();
/** A case of {@link restorationCases}. */
export type RestorationCase = string;

/** Validation MSE of a restoration model on one corruption, beside the two baselines (same pairs). */
export interface RestorationScore {
  /** MSE between the model's output and the original cube. */
  model: number;
  /** MSE between the corrupted input and the original: the do-nothing baseline. */
  identity: number;
  /** MSE of predicting each original cube's own mean: the collapse-to-constant baseline. */
  constant: number;
}

/**
 * The transform configuration of each case: `all` = the defaults; a corruption =
 * `genesisIsolation(c)` (that transform alone, always applied, no flip); `none` =
 * `genesisAblation("identity")`.
 * @throws Error (from the transforms registry) for an unknown case.
 */
export function restorationCaseConfig(c: RestorationCase): Partial<GenesisConfig> {
  if (c === "all") return {};
  if (c === "none") return genesisAblation("identity");
  return genesisIsolation(c);
}

/**
 * Where a restoration model stands, corruption by corruption: every validation cube is corrupted by
 * each case of {@link restorationCases} — `all` = the Genesis configuration `genesis` (reference
 * rates), each registered corruption (`nonlinear` / `localShuffle` / `inPaint` / `outPaint` and any
 * contributed one) = that transform alone with probability 1 and no flip, `none` = the original itself — and the model's MSE is reported beside
 * the identity and constant baselines of the same pairs. A model that has collapsed to a smooth or
 * constant output sits at or above `constant` everywhere; one that only learned to ignore its input
 * is far above `identity` on `none`. (Zhou et al. 2021 discuss the transforms in §2.1.)
 *
 * @param model a 3-D restoration model (output NDHWC (N, rows, cols, deps, 1) in [0, 1])
 * @param val validation cubes (N, rows, cols, deps) in [0, 1]
 * @param opts.seed seed of the pairs (`runPretraining` validates with its seed + {@link VALIDATION_SEED_OFFSET}); `batchSize` of
 *   the forward passes — with batch-statistics BatchNorm (the PyTorch variant) the batch is part of
 *   the evaluation, so pass the training batch size to match the validation loss.
 * @throws TrainError when `model` is not a 3-D single-channel restoration model or `val` is empty.
 */
export async function restorationBreakdown(
  model: GenesisUNet,
  val: CubeSet,
  opts: { seed: number; batchSize: number; genesis?: Partial<GenesisConfig> },
): Promise<Record<RestorationCase, RestorationScore>> {
  if (model.architecture.spatialDims !== 3)
    throw new TrainError(`restorationBreakdown: needs a 3-D model, got ${model.architecture.spatialDims}-D`);
  if (val.count === 0) throw new TrainError("restorationBreakdown: no validation cubes");
  const out = {} as Record<RestorationCase, RestorationScore>;
  for (const c of restorationCases()) {
    const cfg = c === "all" ? (opts.genesis ?? {}) : restorationCaseConfig(c);
    const p = validationPairs(val, opts.seed, cfg);
    const pred = await predictArrays(model, p.input, [val.count, ...val.shape, 1], opts.batchSize);
    if (pred.length !== p.target.length) {
      throw new TrainError(
        `restorationBreakdown: the model gives ${pred.length / val.count} values per cube, expected ${p.target.length / val.count}`,
      );
    }
    let sum = 0;
    for (let i = 0; i < pred.length; i++) sum += (pred[i] - p.target[i]) ** 2;
    out[c] = { model: sum / pred.length, identity: p.identityMse, constant: p.constantMse };
  }
  return out;
}
