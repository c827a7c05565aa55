import { basename, join, relative } from "node:path";
import { groupSplit, ncsCubes, type Split } from "@models-genesis/datasets";
import type { SplitArrays } from "@models-genesis/train";
import { collectVolumeInputs, readVolume, type Vec3 } from "@models-genesis/volume-io";

const EXT = /\.(nii(\.gz)?|mhd|mha|hdr)$/i;

/** (image, label) volumes paired by name: `images/<name>` with `labels/<name>` (extensions aside). */
export interface VolumePair {
  id: string;
  /** A volume file or a DICOM series folder. */
  image: string;
  label: string;
}

/**
 * Pair every volume in `imagesDir` with the volume of the same name in `labelsDir`. Both folders are
 * collected by volume-io's `collectVolumeInputs` (volume files, DICOM series folders, recursively);
 * a volume's name is its path below the folder without the volume extension, so
 * `images/case1/` (a DICOM series) pairs with `labels/case1.nii.gz`.
 * @throws Error naming the folder when it is missing, unreadable or holds no volume, or an image
 *   has no label.
 */
export async function pairVolumes(imagesDir: string, labelsDir: string): Promise<VolumePair[]> {
  const named = async (d: string) =>
    new Map(
      (await collectVolumeInputs([d])).map((v) => [
        relative(d, v.path).replace(EXT, "") || basename(d),
        v.path,
      ]),
    );
  const images = await named(imagesDir);
  const labels = await named(labelsDir);
  // in collection order: by name within each folder, as before
  return [...images.entries()].map(([id, image]) => {
    const label = labels.get(id);
    if (!label) throw new Error(`${join(labelsDir, id)}: missing label for image ${image}`);
    return { id, image, label };
  });
}

/** The patient of a case id: `LIDC-IDRI-NNNN` when present (LIDC naming), otherwise the id itself. */
export function patientOf(id: string): string {
  return /LIDC-IDRI-\d{4}/.exec(id)?.[0] ?? id;
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
    patientOf,
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
