import { readdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { DatasetError } from "./errors.js";

/** File names of volumes this package pairs: NIfTI (`.nii`, `.nii.gz`), MetaImage (`.mhd`, `.mha`), Analyze (`.hdr`). */
export const VOLUME_FILE = /\.(nii(\.gz)?|mhd|mha|hdr)$/i;

/** An image volume and its label volume, matched by file name. */
export interface ImageLabelPair {
  /** The file name without its volume extension (e.g. `LIDC-IDRI-0003_R_2`). */
  readonly id: string;
  readonly image: string;
  readonly label: string;
}

/**
 * Pair every volume file in `imagesDir` with the file of the same name in `labelsDir` — the one
 * pairing rule of the project (LIDC `image/` + `mask/`, `genesis finetune --images/--labels`, the
 * demo). Sorted by name.
 *
 * @param opts.labelWord how messages name a label file (`"label"`, LIDC: `"mask"`).
 * @throws DatasetError naming the folder when it cannot be listed or holds no volume file, or the
 *   missing label file of an image.
 */
export async function pairImageLabelFiles(
  imagesDir: string,
  labelsDir: string,
  opts: { labelWord?: string } = {},
): Promise<ImageLabelPair[]> {
  const word = opts.labelWord ?? "label";
  const list = async (d: string) => {
    try {
      return (await readdir(d)).filter((f) => VOLUME_FILE.test(f)).sort();
    } catch (err) {
      throw new DatasetError(d, `cannot list the folder (${(err as Error).message})`);
    }
  };
  const images = await list(imagesDir);
  const labels = new Set(await list(labelsDir));
  if (images.length === 0)
    throw new DatasetError(imagesDir, "no volume files (.nii, .nii.gz, .mhd, .mha, .hdr)");
  return images.map((f) => {
    if (!labels.has(f)) throw new DatasetError(join(labelsDir, f), `missing ${word} for image ${f}`);
    return { id: basename(f).replace(VOLUME_FILE, ""), image: join(imagesDir, f), label: join(labelsDir, f) };
  });
}

/**
 * The patient of a case id for patient-level splits: `LIDC-IDRI-NNNN` when the id holds one (LIDC
 * naming), otherwise the id itself (each case its own patient). `lidcPatientOf` is the strict form.
 */
export function patientOrId(id: string): string {
  return /LIDC-IDRI-\d{4}/.exec(id)?.[0] ?? id;
}
