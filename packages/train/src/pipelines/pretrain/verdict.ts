import type { ValidationMetric } from "../../trainer.js";

/**
 * The verdict of a pretraining run, from its best validation MSE and output spread:
 * - `"below-baselines"`: below both the identity and the constant baseline — the network restores.
 * - `"above-identity-baseline"`: below the constant baseline but not below the identity one (it
 *   does worse than returning the corrupted input unchanged; common early in training). Not a failure.
 * - `"above-constant-baseline"`: not below the constant baseline (predicting each cube's — or
 *   slice's — own mean): the network learned less than a constant. A failure.
 * - `"collapsed"`: the output's spread fell under {@link COLLAPSE_STD_RATIO} of the originals' (the
 *   blurry/constant outputs of ModelsGenesis#25), whatever the MSE. A failure.
 * - `"no-validation"`: no epoch finished (interrupted). Not judged.
 */
export type PretrainVerdict =
  | "below-baselines"
  | "above-identity-baseline"
  | "above-constant-baseline"
  | "collapsed"
  | "no-validation";

/** An output spread ({@link PretrainSummary.output_std_ratio}) below this is a collapse. */
export const COLLAPSE_STD_RATIO = 0.1;

/** The verdicts that mean the pretraining failed (`genesis pretrain --strict` exits non-zero on them). */
export const FAILED_PRETRAIN_VERDICTS: readonly PretrainVerdict[] = ["above-constant-baseline", "collapsed"];

/**
 * Judge a pretraining run (see {@link PretrainVerdict}).
 * @param r the best validation MSE (NaN without a finished epoch), both baselines (MSE, same pairs)
 *   and the best epoch's output spread (null if unknown)
 * @returns the verdict, whether it is a failure, and one line with the numbers
 */
export function pretrainVerdict(r: {
  best_val_mse: number;
  identity_mse: number;
  constant_mse: number;
  output_std_ratio: number | null;
}): { verdict: PretrainVerdict; failed: boolean; reason: string } {
  const f = (v: number) => v.toFixed(5);
  const judge = (verdict: PretrainVerdict, reason: string) => ({
    verdict,
    failed: FAILED_PRETRAIN_VERDICTS.includes(verdict),
    reason,
  });
  if (!Number.isFinite(r.best_val_mse))
    return judge("no-validation", "no epoch finished, so there is no validation MSE to judge");
  if (r.best_val_mse >= r.constant_mse)
    return judge(
      "above-constant-baseline",
      `best validation MSE ${f(r.best_val_mse)} is not below the constant baseline ${f(r.constant_mse)} (predicting each sample's mean): the network learned less than a constant`,
    );
  if (r.output_std_ratio !== null && r.output_std_ratio < COLLAPSE_STD_RATIO)
    return judge(
      "collapsed",
      `the output collapsed: its spread is ${(100 * r.output_std_ratio).toFixed(1)} % of the originals' (under ${100 * COLLAPSE_STD_RATIO} %), a near-constant image per sample, although the validation MSE ${f(r.best_val_mse)} is below the constant baseline ${f(r.constant_mse)}`,
    );
  if (r.best_val_mse >= r.identity_mse)
    return judge(
      "above-identity-baseline",
      `best validation MSE ${f(r.best_val_mse)} is below the constant baseline ${f(r.constant_mse)} but not below the identity baseline ${f(r.identity_mse)} (the corrupted input returned unchanged)`,
    );
  return judge(
    "below-baselines",
    `best validation MSE ${f(r.best_val_mse)} is below the identity ${f(r.identity_mse)} and constant ${f(r.constant_mse)} baselines`,
  );
}

/**
 * Validation metric `std_ratio`: √(Σ per-sample variance of the prediction / Σ per-sample variance
 * of the target) over the validation pass (samples = the first axis). NaN when the targets are all flat.
 */
export function outputSpreadMetric(): ValidationMetric {
  let predVar = 0;
  let targetVar = 0;
  const variance = (a: Float32Array, from: number, n: number) => {
    let s = 0;
    for (let i = from; i < from + n; i++) s += a[i];
    const m = s / n;
    let v = 0;
    for (let i = from; i < from + n; i++) v += (a[i] - m) ** 2;
    return v / n;
  };
  return {
    update(pred, target, shape) {
      const n = shape[0];
      const per = target.length / n;
      for (let k = 0; k < n; k++) {
        predVar += variance(pred, k * per, per);
        targetVar += variance(target, k * per, per);
      }
    },
    compute: () => (targetVar > 0 ? Math.sqrt(predVar / targetVar) : Number.NaN),
    reset() {
      predVar = 0;
      targetVar = 0;
    },
  };
}
