import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { discoverLidcPairs, writeFileAtomic } from "@models-genesis/datasets";
import { link } from "../sample-layout.js";

/** The NCS sample rule in words. */
export const NCS_SAMPLE_RULE = `LIDC-IDRI nodule VOIs (ct/lidc_nodule_vois) in their own layout: image/<id>.nii.gz and
mask/<id>.nii.gz (radiologist consensus masks), symlinked. Patient-level split by LIDC-IDRI-NNNN.`;

/**
 * Symlink the LIDC VOI pairs into `outDir/image` and `outDir/mask`. With `limit`, the VOIs of the
 * first patients (sorted ids) are kept until `limit` VOIs are reached, whole patients only.
 */
export async function buildNcsSampleLayout(
  voiDir: string,
  outDir: string,
  opts: { limit?: number } = {},
): Promise<{ cases: number; rule: string }> {
  const pairs = await discoverLidcPairs(voiDir);
  let keep = pairs;
  if (opts.limit !== undefined && opts.limit < pairs.length) {
    const last = pairs[opts.limit - 1].patient;
    keep = pairs.filter((p, i) => i < opts.limit! || p.patient === last);
  }
  await mkdir(join(outDir, "image"), { recursive: true });
  await mkdir(join(outDir, "mask"), { recursive: true });
  for (const p of keep) {
    const name = p.image.slice(p.image.lastIndexOf("/") + 1);
    await link(p.image, join(outDir, "image", name));
    await link(p.mask, join(outDir, "mask", name));
  }
  await writeFileAtomic(join(outDir, "SAMPLE_LAYOUT.md"), `${NCS_SAMPLE_RULE}\n\nCases: ${keep.length}.\n`);
  return { cases: keep.length, rule: NCS_SAMPLE_RULE };
}
