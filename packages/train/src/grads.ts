import { releaseAllHeld } from "@models-genesis/kernels";
import * as tf from "@tensorflow/tfjs-core";

/** The part of tfjs-core's engine state that a failed gradient computation leaves behind. */
interface TapeState {
  gradientDepth: number;
  activeTape: { saved?: tf.Tensor[] }[] | null;
}

/**
 * Free what a gradient computation that threw left on tfjs's tape. While `tf.variableGrads` records
 * the forward pass, every op keeps clones of the tensors its gradient will need (`node.saved`, marked
 * `kept`, so no `tf.tidy` frees them); tfjs disposes them only after a *successful* backward pass. A
 * forward pass, loss or gradient function that throws leaves them allocated for good — hundreds of
 * tensors per failed step of a U-Net. Called with no gradient computation in progress (outermost
 * level), this disposes them and clears the tape; inside a nested one it does nothing.
 * @returns how many tensors it freed
 */
export function discardFailedTape(): number {
  const state = (tf.engine() as unknown as { state: TapeState }).state;
  if (state.gradientDepth !== 0 || !state.activeTape) return 0;
  let freed = 0;
  for (const node of state.activeTape) {
    for (const t of node.saved ?? []) {
      if (!t.isDisposed) {
        t.dispose();
        freed++;
      }
    }
  }
  state.activeTape = null;
  return freed;
}

/**
 * Free everything a failed gradient computation left allocated: tfjs's tape
 * ({@link discardFailedTape}) and the buffers that `@models-genesis/kernels`' custom ops (conv3d,
 * BatchNorm) hold for their backward pass outside every tidy scope (`releaseAllHeld`).
 * @returns how many tensors of the tape it freed (the held buffers are not counted)
 */
export function freeFailedGradients(): number {
  const freed = discardFailedTape();
  releaseAllHeld();
  return freed;
}

/**
 * `tf.variableGrads(f, vars)` that frees its tape ({@link freeFailedGradients}) when `f` (forward pass and loss) or a gradient
 * function throws, so a failed step leaves `tf.memory().numTensors` where it was. Same contract as
 * `tf.variableGrads`: `f` returns a scalar; `grads` by variable name (missing where `f` does not
 * reach the variable); the caller disposes `value` and `grads`, or calls it inside `tf.tidy`.
 * @throws whatever `f` or a gradient function throws, after freeing the tape
 */
export function variableGradsFreeing(
  f: () => tf.Scalar,
  vars: tf.Variable[],
): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  try {
    return tf.variableGrads(f, vars);
  } catch (e) {
    freeFailedGradients();
    throw e;
  }
}
