import {
  groupSplit,
  type ImageLabelPair,
  ncsCubes,
  pairImageLabelFiles,
  patientOrId,
  type Split,
} from "@models-genesis/datasets";
import type { SplitArrays } from "@models-genesis/train";
import { readVolume, type Vec3 } from "@models-genesis/volume-io";

/** (image, label) volume files paired by name: `images/<name>` with `labels/<name>` (`pairImageLabelFiles`). */
export type VolumePair = ImageLabelPair;

/**
 * Pair every volume in `imagesDir` with the file of the same name in `labelsDir`
 * (`pairImageLabelFiles` of `@models-genesis/datasets`, the project's one pairing rule).
 * @throws DatasetError naming the folder when it is missing or empty, or an image has no label.
 */
export function pairVolumes(imagesDir: string, labelsDir: string): Promise<VolumePair[]> {
  return pairImageLabelFiles(imagesDir, labelsDir);
}

/**
 * Patient-level train/val/test split of volume pairs (seeded, `groupSplit`).
 */
export function splitPairs(
  pairs: readonly VolumePair[],
  fractions: { train: number; val: number },
  seed: number,
): Split {
  return groupSplit(
    pairs.map((p) => p.id),
    patientOrId,
    { fractions, seed },
  );
}

/**
 * Foreground-centred patches of (image, label) pairs: the box of `size` centred on the label's
 * centroid, the image windowed to [0, 1] (CT [-1000, 1000] HU; padding = window minimum) and the
 * label binarised (> 0). Returns NDHWC arrays (N, X, Y, Z, 1).
 */
export async function foregroundPatches(
  pairs: readonly VolumePair[],
  ids: readonly string[],
  size: Vec3,
  window = { min: -1000, max: 1000 },
): Promise<SplitArrays & { ids: string[] }> {
  const byId = new Map(pairs.map((p) => [p.id, p]));
  const per = size[0] * size[1] * size[2];
  const x = new Float32Array(ids.length * per);
  const y = new Float32Array(ids.length * per);
  for (const [i, id] of ids.entries()) {
    const p = byId.get(id);
    if (!p) throw new Error(`no volume pair with id ${id}`);
    const c = ncsCubes(await readVolume(p.image), await readVolume(p.label, { kind: "label" }), size, window);
    x.set(c.x, i * per);
    y.set(c.y, i * per);
  }
  const shape = [ids.length, size[0], size[1], size[2], 1];
  return { x, xShape: shape, y, yShape: shape, ids: [...ids] };
}
