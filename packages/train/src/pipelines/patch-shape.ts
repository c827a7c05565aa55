/**
 * Fine-tuning at the patch shape a model was pretrained at: the Models Genesis authors advise keeping
 * it (ModelsGenesis issue #36), so a different shape earns one warning naming both.
 */

/** Cube shape (rows, cols, deps) of the official Genesis Chest CT weights (the reference's 64×64×32 sub-volumes). */
export const OFFICIAL_PRETRAINING_SHAPE: readonly [number, number, number] = [64, 64, 32];

const isShape = (v: unknown): v is number[] =>
  Array.isArray(v) && v.length === 3 && v.every((n) => Number.isInteger(n) && n > 0);

/**
 * The cube shape (rows, cols, deps) a saved model was pretrained at, from its metadata as
 * `genesis pretrain` (`runPretraining`) writes it: `extra.pretraining.cubes.shape`, else
 * `preprocessing.patchSize` when `extra.pretraining` is present; null when the metadata records
 * none (e.g. a fine-tuned model or an imported one).
 */
export function pretrainingShapeOf(metadata: {
  extra?: Record<string, unknown>;
  preprocessing?: { patchSize?: readonly number[] };
}): number[] | null {
  const pre = metadata.extra?.pretraining as { cubes?: { shape?: unknown } } | undefined;
  if (!pre || typeof pre !== "object") return null;
  if (isShape(pre.cubes?.shape)) return [...pre.cubes.shape];
  const p = metadata.preprocessing?.patchSize;
  return isShape(p) ? [...p] : null;
}

/**
 * The warning for fine-tuning patches of `patch` (rows, cols, deps) on a model pretrained at
 * `pretrained` cubes, or null when they agree. A 2-D network (`spatialDims` 2) sees axial slices
 * of both, so only rows × cols are compared.
 *
 * @param source what was pretrained, for the message (a model folder, "the official weights").
 */
export function patchShapeWarning(
  pretrained: readonly number[],
  patch: readonly number[],
  spatialDims: 2 | 3,
  source: string,
): string | null {
  const n = spatialDims === 2 ? 2 : 3;
  const a = pretrained.slice(0, n);
  const b = patch.slice(0, n);
  if (a.every((v, i) => v === b[i])) return null;
  const what = spatialDims === 2 ? "axial slices of " : "";
  return `fine-tuning: warning: ${what}patches of ${b.join("×")} differ from the ${a.join("×")} ${spatialDims === 2 ? "slices" : "cubes"} ${source} was pretrained at; the Models Genesis authors advise fine-tuning at the pretraining shape (ModelsGenesis issue #36)`;
}

const warned = new Set<string>();

/**
 * Log {@link patchShapeWarning}'s message once per process (an app's runs and folds repeat the same
 * fine-tuning); nothing when the shapes agree or `pretrained` is null.
 */
export function warnPatchShapeOnce(
  pretrained: readonly number[] | null,
  patch: readonly number[],
  spatialDims: 2 | 3,
  source: string,
  log: ((line: string) => void) | undefined,
): void {
  if (!pretrained || !log) return;
  const msg = patchShapeWarning(pretrained, patch, spatialDims, source);
  if (msg === null || warned.has(msg)) return;
  warned.add(msg);
  log(msg);
}
