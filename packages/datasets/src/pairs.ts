import { basename, join, relative } from "node:path";
import { collectVolumeInputs, VolumeReadError } from "@models-genesis/volume-io";
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
 * Pair every volume in `imagesDir` with the volume of the same name in `labelsDir` — the one
 * pairing rule of the project (LIDC `image/` + `mask/`, `genesis finetune --images/--labels`, the
 * demo). Both folders are collected by volume-io's `collectVolumeInputs` (volume files and DICOM
 * series folders, recursively); a volume's name is its path below the folder without the volume
 * extension, so `images/case1/` (a DICOM series) pairs with `labels/case1.nii.gz`. Sorted by name.
 *
 * @param opts.labelWord how messages name a label file (`"label"`, LIDC: `"mask"`).
 * @throws DatasetError naming the folder when it is missing, cannot be read or holds no volume, or
 *   naming the missing label of an image.
 */
export async function pairImageLabelFiles(
  imagesDir: string,
  labelsDir: string,
  opts: { labelWord?: string } = {},
): Promise<ImageLabelPair[]> {
  const word = opts.labelWord ?? "label";
  const named = async (d: string) => {
    let inputs: Awaited<ReturnType<typeof collectVolumeInputs>>;
    try {
      inputs = await collectVolumeInputs([d]);
    } catch (err) {
      if (err instanceof VolumeReadError) throw new DatasetError(err.file, err.problem);
      throw err;
    }
    return new Map(inputs.map((v) => [relative(d, v.path).replace(VOLUME_FILE, "") || basename(d), v.path]));
  };
  const images = await named(imagesDir);
  const labels = await named(labelsDir);
  return [...images.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([id, image]) => {
      const label = labels.get(id);
      if (!label)
        throw new DatasetError(
          join(labelsDir, id),
          `missing ${word} for image ${relative(imagesDir, image)}`,
        );
      return { id, image, label };
    });
}

/**
 * The patient of a case id for patient-level splits: `LIDC-IDRI-NNNN` when the id holds one (LIDC
 * naming), otherwise the id itself (each case its own patient). `lidcPatientOf` is the strict form.
 */
export function patientOrId(id: string): string {
  return /LIDC-IDRI-\d{4}/.exec(id)?.[0] ?? id;
}
