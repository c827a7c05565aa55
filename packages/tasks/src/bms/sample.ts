import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "@models-genesis/datasets";
import { link, need } from "../sample-layout.js";

/** The BMS sample rule in words. */
export const BMS_SAMPLE_RULE = `BraTS-2018-style sample from mri/brats2015_deepmedic (6 BraTS 2015 cases, CC BY-NC-SA 3.0 CH:
non-commercial; symlinked, never copied into the repository):
- <case>/<case>_flair.nii.gz -> Flair_subtrMeanDivStd.nii.gz, <case>_t1ce.nii.gz -> T1c_subtrMeanDivStd.nii.gz,
  <case>_seg.nii.gz -> OTMultiClass.nii.gz (BraTS 2013 labels 0-4; whole tumour = label > 0 as in BraTS-2018).
  T1 and T2 do not exist in this sample.
- Intensities are already z-scored inside the brain (not raw MRI units), so the app windows [-5, 5] -> [0, 1]
  for this sample instead of the reference's [0, 4000].
- Fold files folds/fold_1.csv = DeepMedic train cases, fold_2.csv = validation cases, fold_3.csv = test cases;
  the reference split then gives train/validation from fold_1+fold_2 (shuffled with seed 4; at least one
  validation case because 4 // 8 = 0) and test = fold_3.`;

/** Window for the z-scored sample FLAIR (see {@link BMS_SAMPLE_RULE}). */
export const BMS_SAMPLE_WINDOW: readonly [number, number] = [-5, 5];

/** Build the BMS sample layout (see {@link BMS_SAMPLE_RULE}) in `outDir`. */
export async function buildBmsSampleLayout(
  mriDir: string,
  outDir: string,
  opts: { limitPerFold?: number } = {},
): Promise<{ cases: string[]; rule: string }> {
  const root = join(mriDir, "brats2015_deepmedic");
  const cases: string[] = [];
  await mkdir(join(outDir, "folds"), { recursive: true });
  for (const [fold, part] of [
    [1, "train"],
    [2, "validation"],
    [3, "test"],
  ] as const) {
    const dir = join(root, part);
    await need(dir);
    let ids = (await readdir(dir)).sort();
    if (opts.limitPerFold !== undefined) ids = ids.slice(0, opts.limitPerFold);
    for (const id of ids) {
      const c = join(outDir, "HGG", id);
      await mkdir(c, { recursive: true });
      await link(join(dir, id, "Flair_subtrMeanDivStd.nii.gz"), join(c, `${id}_flair.nii.gz`));
      await link(join(dir, id, "T1c_subtrMeanDivStd.nii.gz"), join(c, `${id}_t1ce.nii.gz`));
      await link(join(dir, id, "OTMultiClass.nii.gz"), join(c, `${id}_seg.nii.gz`));
      cases.push(id);
    }
    await writeFileAtomic(join(outDir, "folds", `fold_${fold}.csv`), `${ids.join("\n")}\n`);
  }
  await writeFileAtomic(
    join(outDir, "SAMPLE_LAYOUT.md"),
    `${BMS_SAMPLE_RULE}\n\nCases: ${cases.join(", ")}.\n`,
  );
  return { cases, rule: BMS_SAMPLE_RULE };
}
