/**
 * The preprocessing record of a model (`ModelMetadata.preprocessing`): the reference's records
 * and the upgrade of metadata saved before the record existed (format 1).
 */
import { type PreprocessingRecord, recordFor, validateRecord } from "@models-genesis/volume-io";
import type { ModelMetadata } from "./save.js";

/**
 * The reference's pretraining/fine-tuning record: CT, HU window [−1000, 1000] → [0, 1], no
 * resampling, no reorientation, 64×64×32 patches (`infinite_generator_3D.py`; reference-facts
 * "Intensities"). Models built or trained without a record of their own carry this one.
 */
export const REFERENCE_CT_RECORD: Readonly<PreprocessingRecord> = Object.freeze(
  recordFor({
    modality: "CT",
    source: "reference Models Genesis CT (infinite_generator_3D.py: HU [-1000, 1000] -> [0, 1], 64x64x32)",
  }),
);

/** Record of the official PyTorch weights (`Genesis_Chest_CT.pt`): the reference CT record. */
export const TORCH_WEIGHTS_RECORD: Readonly<PreprocessingRecord> = Object.freeze(
  recordFor({
    modality: "CT",
    source:
      "official Genesis_Chest_CT.pt (pytorch/Genesis_Chest_CT.py: HU [-1000, 1000] -> [0, 1], 64x64x32)",
  }),
);

/** Record of the official Keras weights (`Genesis_Chest_CT.h5`): the reference CT record. */
export const KERAS_WEIGHTS_RECORD: Readonly<PreprocessingRecord> = Object.freeze(
  recordFor({
    modality: "CT",
    source: "official Genesis_Chest_CT.h5 (keras/Genesis_Chest_CT.py: HU [-1000, 1000] -> [0, 1], 64x64x32)",
  }),
);

/** A fresh mutable copy of a record (the constants above are frozen). */
export function copyRecord(r: Readonly<PreprocessingRecord>): PreprocessingRecord {
  return validateRecord(JSON.parse(JSON.stringify(r)), r.source);
}

function positiveInts(v: unknown): [number, number, number] | null {
  if (!Array.isArray(v) || v.length !== 3) return null;
  if (!v.every((d) => Number.isInteger(d) && d > 0)) return null;
  return [v[0], v[1], v[2]];
}

/** Source string of a record made by {@link upgradeMetadata}. */
export const UPGRADED_SOURCE =
  "upgraded from format-1 metadata (intensity, spacing, extra.patchSize); defaults: CT [-1000, 1000] -> [0, 1], no spacing/resize, 64x64x32, orientation null";

/**
 * The metadata of a saved model in today's shape. Metadata with a `preprocessing` record is
 * validated and returned. Metadata saved before the record existed (model format 1, with
 * `intensity`, `spacing` and `extra.patchSize`) is upgraded with documented defaults:
 * - modality, window and range: `intensity` when it is set (what `predict` applied then), else CT
 *   HU [−1000, 1000] → [0, 1];
 * - `spacing`: the old `spacing` when it is three positive mm values, else null; `resize` null;
 *   `crop` null; `orientation` null;
 * - `patchSize`: the first of `extra.patchSize`, `extra.inputSize`, `extra.finetuning.patchSize`,
 *   `extra.finetuning.inputSize` that is three positive integers, else 64×64×32;
 * - `source`: {@link UPGRADED_SOURCE}.
 * The old fields (`intensity`, `spacing`, `extra.patchSize`) are dropped: the record is their one home.
 * @param file the `model.json` named in errors.
 * @throws VolumeValueError (one line naming `file`) for a `preprocessing` record that is invalid,
 *   or an old `intensity` whose window is not finite with hi > lo.
 */
export function upgradeMetadata(raw: Record<string, unknown>, file: string): ModelMetadata {
  const { intensity, spacing, ...rest } = raw as Record<string, unknown> & {
    intensity?: { modality?: unknown; window?: unknown; range?: unknown } | null;
    spacing?: unknown;
  };
  if (rest.preprocessing !== undefined) {
    return { ...(rest as unknown as ModelMetadata), preprocessing: validateRecord(rest.preprocessing, file) };
  }
  const extra = (typeof rest.extra === "object" && rest.extra !== null ? rest.extra : {}) as Record<
    string,
    unknown
  >;
  const nested = (
    typeof extra.finetuning === "object" && extra.finetuning !== null ? extra.finetuning : {}
  ) as Record<string, unknown>;
  let patchSize: [number, number, number] = [64, 64, 32];
  for (const v of [extra.patchSize, extra.inputSize, nested.patchSize, nested.inputSize]) {
    const s = positiveInts(v);
    if (s) {
      patchSize = s;
      break;
    }
  }
  const sp =
    Array.isArray(spacing) && spacing.length === 3 && spacing.every((s) => Number.isFinite(s) && s > 0);
  const record = validateRecord(
    {
      modality: intensity?.modality === "MRI" ? "MRI" : "CT",
      window: intensity?.window ?? [-1000, 1000],
      range: intensity?.range ?? [0, 1],
      spacing: sp ? [...(spacing as number[])] : null,
      resize: null,
      crop: null,
      patchSize,
      orientation: null,
      source: UPGRADED_SOURCE,
    },
    file,
  );
  const { patchSize: _dropped, ...keptExtra } = extra;
  const out = { ...(rest as unknown as ModelMetadata), preprocessing: record };
  if (rest.extra !== undefined) out.extra = keptExtra;
  return out;
}
