import { readdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { groupSplit, ncsCubes, type Split } from "@models-genesis/datasets";
import type { SplitArrays } from "@models-genesis/train";
import { readVolume, type Vec3 } from "@models-genesis/volume-io";

const NII = /\.(nii(\.gz)?|mhd|mha|hdr)$/i;

/** (image, label) volume files paired by name: `images/<name>` with `labels/<name>`. */
export interface VolumePair {
  id: string;
  image: string;
  label: string;
}

/**
 * Pair every volume in `imagesDir` with the file of the same name in `labelsDir`.
 * @throws Error naming the folder when it is missing or empty, or an image has no label.
 */
export async function pairVolumes(imagesDir: string, labelsDir: string): Promise<VolumePair[]> {
  const list = async (d: string) => {
    try {
      return (await readdir(d)).filter((f) => NII.test(f)).sort();
    } catch (e) {
      throw new Error(`${d}: cannot list the folder (${(e as Error).message})`);
    }
  };
  const images = await list(imagesDir);
  const labels = new Set(await list(labelsDir));
  if (images.length === 0) throw new Error(`${imagesDir}: no volume files (.nii, .nii.gz, .mhd, .mha, .hdr)`);
  return images.map((f) => {
    if (!labels.has(f)) throw new Error(`${join(labelsDir, f)}: missing label for image ${f}`);
    return { id: basename(f).replace(NII, ""), image: join(imagesDir, f), label: join(labelsDir, f) };
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
