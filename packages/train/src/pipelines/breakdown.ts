import type { GenesisUNet } from "@models-genesis/models";
import { type GenesisConfig, genesisAblation } from "@models-genesis/transforms";
import { TrainError } from "../errors.js";
import { predictArrays } from "./finetune.js";
import { type CubeSet, VALIDATION_SEED_OFFSET, validationPairs } from "./pretrain.js";

/** The corruptions {@link restorationBreakdown} scores a model on, one at a time. */
export const RESTORATION_CASES = ["all", "nonlinear", "localShuffle", "inPaint", "outPaint", "none"] as const;
export type RestorationCase = (typeof RESTORATION_CASES)[number];

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
 * The transform configuration of each case: `genesisAblation`'s one-transform configurations with
 * that transform always applied and no flip; `none` = `genesisAblation("identity")`.
 */
export function restorationCaseConfig(c: RestorationCase): Partial<GenesisConfig> {
  const noFlip = { flip: false };
  switch (c) {
    case "all":
      return {};
    case "nonlinear":
      return { ...genesisAblation("nonlinear"), ...noFlip, nonlinearRate: 1 };
    case "localShuffle":
      return { ...genesisAblation("localShuffle"), ...noFlip, localRate: 1 };
    case "inPaint":
      return { ...genesisAblation("inPaint"), ...noFlip, paintRate: 1 };
    case "outPaint":
      return { ...genesisAblation("outPaint"), ...noFlip, paintRate: 1 };
    case "none":
      return genesisAblation("identity");
  }
}

/**
 * Where a restoration model stands, corruption by corruption: every validation cube is corrupted by
 * each case of {@link RESTORATION_CASES} — `all` = the Genesis configuration `genesis` (reference
 * rates), `nonlinear` / `localShuffle` / `inPaint` / `outPaint` = that transform alone with
 * probability 1 and no flip, `none` = the original itself — and the model's MSE is reported beside
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
  for (const c of RESTORATION_CASES) {
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
