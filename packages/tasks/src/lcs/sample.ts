import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { loadVolume, subVolume, writeFileAtomic, writeNiftiAs } from "@models-genesis/datasets";
import type { Vec3, Volume } from "@models-genesis/volume-io";
import { need } from "../sample-layout.js";

/** The LCS sample rule in words. */
export const LCS_SAMPLE_RULE = `LiTS-style sample (volume-N.nii / segmentation-N.nii, labels 0 bg, 1 liver), no LiTS volume being available:
- volume-0 / volume-100 / volume-115: ct/abdomen_totalseg_example/ct_30slices.nii.gz (3 mm, real HU) cut
  along z into slices 0-9 (N = 0, train), 10-19 (N = 100, validation) and 20-29 (N = 115, test);
  segmentation = TotalSegmentator "total" label 5 (liver; a model output, not manual) mapped to LiTS
  label 1, every other label to 0. The liver is present in all 30 slices.
- volume-116 (second test case): ct/abdomen_dcmqi_3slice DICOM series (3 slices, 512x512) with its
  manual liver_seg.nii.gz (1 = liver), when volume-io can read that DICOM series.
The split follows the LiTS numbering rule 0-99 / 100-114 / 115-129.`;

/** Build the LCS sample layout (see {@link LCS_SAMPLE_RULE}) in `outDir`. */
export async function buildLcsSampleLayout(
  ctDir: string,
  outDir: string,
): Promise<{ cases: number[]; rule: string; skipped: string[] }> {
  const ex = join(ctDir, "abdomen_totalseg_example");
  await need(join(ex, "ct_30slices.nii.gz"));
  await need(join(ex, "seg_total_30slices.nii.gz"));
  const ct = await loadVolume(join(ex, "ct_30slices.nii.gz"));
  const seg = await loadVolume(join(ex, "seg_total_30slices.nii.gz"));
  const liver: Volume = { ...seg, data: Uint8Array.from(seg.data, (v) => (v === 5 ? 1 : 0)), kind: "label" };
  await mkdir(outDir, { recursive: true });
  const third = Math.floor(ct.shape[2] / 3);
  const cases: number[] = [];
  for (const [n, z0, nz] of [
    [0, 0, third],
    [100, third, third],
    [115, 2 * third, ct.shape[2] - 2 * third],
  ] as const) {
    const size: Vec3 = [ct.shape[0], ct.shape[1], nz];
    await writeNiftiAs(join(outDir, `volume-${n}.nii`), subVolume(ct, [0, 0, z0], size), "int16");
    await writeNiftiAs(join(outDir, `segmentation-${n}.nii`), subVolume(liver, [0, 0, z0], size), "uint8");
    cases.push(n);
  }
  const skipped: string[] = [];
  const dq = join(ctDir, "abdomen_dcmqi_3slice");
  try {
    const dct = await loadVolume(join(dq, "dicom"));
    const dseg = await loadVolume(join(dq, "liver_seg.nii.gz"));
    await writeNiftiAs(join(outDir, "volume-116.nii"), dct, "int16");
    await writeNiftiAs(
      join(outDir, "segmentation-116.nii"),
      { ...dseg, data: Uint8Array.from(dseg.data, (v) => (v >= 1 ? 1 : 0)) },
      "uint8",
    );
    cases.push(116);
  } catch (err) {
    skipped.push(`${dq}: ${(err as Error).message}`);
  }
  await writeFileAtomic(
    join(outDir, "SAMPLE_LAYOUT.md"),
    `${LCS_SAMPLE_RULE}\n\nCases: ${cases.join(", ")}.${skipped.length ? `\nSkipped: ${skipped.join("; ")}` : ""}\n`,
  );
  return { cases, rule: LCS_SAMPLE_RULE, skipped };
}
