import type { FinetuneRequest, FinetuneResult } from "@models-genesis/datasets";
import { initBackend } from "@models-genesis/kernels";
import { finetuneTask } from "@models-genesis/train";

let backend: Promise<string> | undefined;

/**
 * Fine-tune one model for the NCC task and evaluate it on the test arrays, with the task's
 * reference recipe (`keras/downstream_tasks/config.py`) through `finetuneTask` of
 * `@models-genesis/train`. The first call starts the fastest available tfjs backend
 * (`GENESIS_BACKEND` overrides) and logs which one runs. `scratch-2d` / `genesis-2d` train the
 * slice-wise 2-D U-Net on the patches' axial slices; a patch's score is the mean of its slices' probabilities.
 *
 * @returns the test-set ROC AUC (fraction).
 */
export async function runFinetune(req: FinetuneRequest): Promise<FinetuneResult> {
  backend ??= initBackend({ log: req.log });
  await backend;
  return finetuneTask(req);
}
