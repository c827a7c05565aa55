import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  DatasetError,
  loadVolume,
  PyRandom,
  subVolume,
  voxelToWorldLps,
  writeEccCandidates,
  writeFileAtomic,
  writeNiftiAs,
} from "@models-genesis/datasets";
import type { Vec3 } from "@models-genesis/volume-io";
import { need } from "../sample-layout.js";

/** The ECC sample rule in words. */
export const ECC_SAMPLE_RULE = `Pipeline check, NOT pulmonary embolism: no embolism labels exist in the shared data.
- Volumes: the two contrast chest CTs ct/chest_cta_totalseg_pulmonary and ct/chest_cta_totalseg_aorta
  (1.5 mm, real HU), each cut along the first voxel axis (x, left-right) into two halves written as NIfTI
  (cta_<name>_<a|b>.nii.gz, geometry kept), giving 4 volumes so that 3-fold cross-validation by
  volume is possible (along z the pulmonary artery would lie in one half only).
- Label rule: label 1 = the candidate centre lies inside the vessel mask of its volume (the
  TotalSegmentator pulmonary-artery mask for "pulmonary", the aorta mask for "aorta"); label 0 = the
  centre lies outside that mask, in soft tissue or contrast (HU > -500), at least 5 voxels from it.
- Candidates: per half volume \`perClass\` positive and \`perClass\` negative centres, drawn uniformly
  with PyRandom(seed) from the voxels satisfying each rule; written as candidates.csv
  (volume,coordX,coordY,coordZ,label; LPS mm).`;

/** Build the ECC sample layout (see {@link ECC_SAMPLE_RULE}) in `outDir`. */
export async function buildEccSampleLayout(
  ctDir: string,
  outDir: string,
  opts: { seed?: number; perClass?: number } = {},
): Promise<{ volumes: number; positives: number; negatives: number; rule: string }> {
  const rng = new PyRandom(opts.seed ?? 0);
  const perClass = opts.perClass ?? 12;
  const sources = [
    {
      name: "pulmonary",
      ct: join(ctDir, "chest_cta_totalseg_pulmonary", "ct.nii.gz"),
      mask: join(ctDir, "chest_cta_totalseg_pulmonary", "pulmonary_artery.nii.gz"),
    },
    {
      name: "aorta",
      ct: join(ctDir, "chest_cta_totalseg_aorta", "ct.nii.gz"),
      mask: join(ctDir, "chest_cta_totalseg_aorta", "aorta.nii.gz"),
    },
  ];
  const rows: { volume: string; world: Vec3; label: 0 | 1 }[] = [];
  let volumes = 0;
  await mkdir(outDir, { recursive: true });
  for (const s of sources) {
    await need(s.ct);
    await need(s.mask);
    const ct = await loadVolume(s.ct);
    const mask = await loadVolume(s.mask);
    if (ct.shape.some((v, i) => v !== mask.shape[i]))
      throw new DatasetError(s.mask, "mask shape differs from the CT");
    // cut along the first voxel axis (x): the pulmonary trunk and the aorta reach both halves,
    // while along z the pulmonary artery occupies only slices 67-98 of 112
    const half = Math.floor(ct.shape[0] / 2);
    for (const [tag, x0, nx0] of [
      ["a", 0, half],
      ["b", half, ct.shape[0] - half],
    ] as const) {
      const size: Vec3 = [nx0, ct.shape[1], ct.shape[2]];
      const nz = size[2];
      const ctPart = subVolume(ct, [x0, 0, 0], size);
      const mPart = subVolume(mask, [x0, 0, 0], size);
      const file = `cta_${s.name}_${tag}.nii.gz`;
      await writeNiftiAs(join(outDir, file), ctPart, "int16");
      volumes++;
      // candidate pools
      const pos: number[] = [];
      const neg: number[] = [];
      const [nx, ny] = size;
      const far = (x: number, y: number, z: number) => {
        for (let a = Math.max(0, x - 5); a <= Math.min(nx - 1, x + 5); a++)
          for (let b = Math.max(0, y - 5); b <= Math.min(ny - 1, y + 5); b++)
            for (let c = Math.max(0, z - 5); c <= Math.min(nz - 1, z + 5); c++)
              if (mPart.data[(a * ny + b) * nz + c] > 0) return false;
        return true;
      };
      for (let i = 0; i < mPart.data.length; i++) {
        if (mPart.data[i] > 0) pos.push(i);
        else if (ctPart.data[i] > -500 && i % 7 === 0) neg.push(i); // every 7th voxel keeps the pool small
      }
      const draw = (pool: number[], label: 0 | 1, check: (v: Vec3) => boolean) => {
        let got = 0;
        let tries = 0;
        while (got < perClass && pool.length > 0 && tries < 50 * perClass) {
          tries++;
          const i = pool[rng.randbelow(pool.length)];
          const z = i % nz;
          const y = ((i - z) / nz) % ny;
          const x = (i - z - y * nz) / (ny * nz);
          if (!check([x, y, z])) continue;
          rows.push({ volume: file, world: voxelToWorldLps(ctPart, [x, y, z]), label });
          got++;
        }
        return got;
      };
      draw(pos, 1, () => true);
      draw(neg, 0, (v) => far(v[0], v[1], v[2]));
    }
  }
  await writeEccCandidates(join(outDir, "candidates.csv"), rows);
  const positives = rows.filter((r) => r.label === 1).length;
  const negatives = rows.length - positives;
  await writeFileAtomic(
    join(outDir, "SAMPLE_LAYOUT.md"),
    `${ECC_SAMPLE_RULE}\n\nVolumes: ${volumes}; positives: ${positives}; negatives: ${negatives}.\n`,
  );
  return { volumes, positives, negatives, rule: ECC_SAMPLE_RULE };
}
