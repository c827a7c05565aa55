import type { FinetuneRequest, FinetuneResult } from "@models-genesis/datasets";

/**
 * Fine-tune one model for the NCS task and evaluate it on the test arrays.
 *
 * Receives the prepared arrays (`req.data.{train,val,test}`: x NDHWC `(N, X, Y, Z, 1)` in [0, 1];
 * y `(N, X, Y, Z, 1)` masks), the reference recipe `req.config` (Adam, lr, batch, patience,
 * ReduceLROnPlateau), the initialisation (`scratch`, `genesis` or `official` with `req.weights`),
 * the run seed, and `req.modelDir` where the fine-tuned model is saved for `genesis predict`.
 *
 * @returns the test-set paper IoU (Keras mean IoU over thresholds 0.50…0.95; fraction), with `dice` and plain `iou` in metrics.
 */
export async function runFinetune(_req: FinetuneRequest): Promise<FinetuneResult> {
  throw new Error("training wiring lands with the train package");
}
