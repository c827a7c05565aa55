import * as tf from "@tensorflow/tfjs-core";

/**
 * A loss: `(yTrue, yPred) → scalar`. Both tensors have the same shape — NDHWC (N, rows, cols, deps, C)
 * for restoration/segmentation, (N, classes) for classification. Called inside `tf.tidy`.
 */
export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar;

/** Keras `K.epsilon()`: probabilities are clipped to [ε, 1 − ε] before the logarithms of BCE. */
export const BCE_EPSILON = 1e-7;

/** Mean squared error over every element (PyTorch `nn.MSELoss()`, the pretraining loss, `pytorch/Genesis_Chest_CT.py`). */
export const mseLoss: LossFn = (yTrue, yPred) =>
  tf.tidy(() => tf.mean(tf.squaredDifference(yPred, yTrue)) as tf.Scalar);

/**
 * Soft Dice coefficient over the whole flattened batch, (2·Σ t·p + s) / (Σ t + Σ p + s), smooth s = 1
 * (`dice_coef`, `keras/downstream_tasks/utils.py`). Not per-sample: one value per batch, as the reference.
 */
export function softDice(yTrue: tf.Tensor, yPred: tf.Tensor, smooth = 1): tf.Scalar {
  return tf.tidy(() => {
    const t = tf.reshape(yTrue, [-1]);
    const p = tf.reshape(yPred, [-1]);
    const inter = tf.sum(tf.mul(t, p));
    return tf.div(
      tf.add(tf.mul(2, inter), smooth),
      tf.add(tf.add(tf.sum(t), tf.sum(p)), smooth),
    ) as tf.Scalar;
  });
}

/** Soft Dice loss = 1 − {@link softDice} with smooth 1 (`dice_coef_loss`, `keras/downstream_tasks/utils.py`). */
export const softDiceLoss: LossFn = (yTrue, yPred) =>
  tf.tidy(() => tf.sub(1, softDice(yTrue, yPred)) as tf.Scalar);

/**
 * Binary cross-entropy on probabilities (sigmoid outputs), mean over all elements, with `yPred`
 * clipped to [1e−7, 1 − 1e−7] (Keras `binary_crossentropy`; the reference classification loss for
 * n ≤ 2 classes, `keras/downstream_tasks/utils.py`).
 */
export const bceLoss: LossFn = (yTrue, yPred) =>
  tf.tidy(() => {
    const p = tf.clipByValue(yPred, BCE_EPSILON, 1 - BCE_EPSILON);
    const l = tf.add(tf.mul(yTrue, tf.log(p)), tf.mul(tf.sub(1, yTrue), tf.log(tf.sub(1, p))));
    return tf.neg(tf.mean(l)) as tf.Scalar;
  });

/**
 * BCE + soft Dice loss.
 * - `"sum"` (default): BCE + (1 − Dice).
 * - `"reference"`: 0.5·BCE − Dice, the reference's `bce_dice_loss` (`keras/downstream_tasks/utils.py`);
 *   same gradients as 0.5·BCE + (1 − Dice), the value is shifted by −1 and can be negative.
 */
export function bceDiceLoss(variant: "sum" | "reference" = "sum"): LossFn {
  const fn: LossFn = (yTrue, yPred) =>
    tf.tidy(() => {
      const bce = bceLoss(yTrue, yPred);
      const d = softDice(yTrue, yPred);
      return (variant === "reference" ? tf.sub(tf.mul(0.5, bce), d) : tf.add(bce, tf.sub(1, d))) as tf.Scalar;
    });
  NAMES.set(fn, variant === "reference" ? "bce-dice-reference" : "bce+dice");
  return fn;
}

const NAMES = new WeakMap<LossFn, string>([
  [mseLoss, "mse"],
  [softDiceLoss, "dice"],
  [bceLoss, "bce"],
]);

/**
 * The {@link lossByName} name of one of this module's losses (`mse`, `dice`, `bce`, `bce+dice`,
 * `bce-dice-reference`), or undefined for any other function — what a data-parallel replica needs
 * to rebuild the loss in its own thread.
 */
export function lossNameOf(fn: LossFn): string | undefined {
  return NAMES.get(fn);
}

/** Loss by name, for CLI flags: `mse`, `dice`, `bce`, `bce+dice`, `bce-dice-reference`. */
export function lossByName(name: string): LossFn {
  switch (name) {
    case "mse":
      return mseLoss;
    case "dice":
      return softDiceLoss;
    case "bce":
      return bceLoss;
    case "bce+dice":
      return bceDiceLoss("sum");
    case "bce-dice-reference":
      return bceDiceLoss("reference");
    default:
      throw new Error(`lossByName: unknown loss "${name}" (mse, dice, bce, bce+dice, bce-dice-reference)`);
  }
}
