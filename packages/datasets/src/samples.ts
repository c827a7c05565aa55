import { access, mkdir, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import type { Vec3, Volume } from "@models-genesis/volume-io";
import { writeEccCandidates } from "./ecc.js";
import { DatasetError } from "./errors.js";
import { csvNumber, readCsv, writeCsv, writeFileAtomic } from "./files.js";
import { insideShape, roundVoxel, voxelToWorldLps, worldLpsToVoxel } from "./geometry.js";
import { subVolume, writeMetaImage, writeNiftiAs } from "./image-writers.js";
import { loadVolume } from "./io.js";
import { lidcPatientOf } from "./lidc.js";
import { PyRandom } from "./random.js";

/**
 * Sample layouts: real data from the shared test-data folder (`MANIFEST.md` there) arranged in each
 * public dataset's own structure, so that the apps' native readers run end to end here. Each builder
 * states its rule in `SAMPLE_LAYOUT.md` inside the layout it writes and returns the same text.
 */

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

async function need(p: string): Promise<void> {
  if (!(await exists(p)))
    throw new DatasetError(p, "sample data not found (is the shared data folder beside the repository?)");
}

async function link(target: string, path: string): Promise<void> {
  await rm(path, { force: true });
  await symlink(target, path);
}

function at(vol: Volume, v: Vec3): number {
  return vol.data[((v[0] * vol.shape[1] + v[1]) * vol.shape[2] + v[2]) * vol.channels];
}

// ---------------------------------------------------------------------------------------------
// NCC: LUNA16-style layout whose scans are the LIDC nodule VOIs
// ---------------------------------------------------------------------------------------------

/** The rule used for NCC sample candidates, in words (also written to `SAMPLE_LAYOUT.md`). */
export const NCC_SAMPLE_RULE = `LUNA16-style sample built from the LIDC-IDRI nodule VOIs (ct/lidc_nodule_vois).
- Scans: each VOI image is one "scan" \`subsetK/<voi>.mhd\` + \`.raw\` (int16 HU, LUNA16 header: LPS
  TransformMatrix identity after axis reordering, Offset in LPS mm). The seriesuid column holds the VOI
  name (e.g. LIDC-IDRI-0003_R_2), because one LIDC series can have several VOIs.
- Subsets: patients (LIDC-IDRI-NNNN) are sorted, shuffled with PyRandom(seed) and dealt round-robin into
  subset0..subset9, so the reference folds (train 0-4, val 5-6, test 7-9) are patient-level.
- Positives (class 1): the nodule centre coordX/Y/Z (LPS mm) of the VOI from nodules.csv, plus any other
  nodule of the same series whose centre falls inside the VOI.
- Negatives (class 0): real non-nodule lung positions in the same VOI: of the 8 points at 15 % / 85 % of
  the VOI extent on each axis, those (a) with no nodule-mask voxel within 5 mm on each axis, (b) farther
  than radius + 5 mm from every nodule centre in the VOI, (c) whose mean HU over the 3x3 in-plane
  neighbourhood is between -1000 and -400 (aerated lung, not chest wall or vessel); at most
  \`negativesPerScan\` per VOI, in a fixed order.
- Caveat: VOIs are small crops, so a 64x64x32 cube is padded with -1000 HU; negatives sit off-centre
  in their VOI and see a different padding pattern than the centred positives. This layout checks the
  pipeline; its AUC is not comparable with the paper's.`;

/**
 * Build the NCC sample layout in `outDir` from the LIDC VOIs in `voiDir` (see {@link NCC_SAMPLE_RULE}).
 *
 * @param opts.limit keep only the first `limit` VOIs in the seeded patient order (quick runs).
 * @returns counts and the rule text.
 */
export async function buildNccSampleLayout(
  voiDir: string,
  outDir: string,
  opts: { seed?: number; limit?: number; negativesPerScan?: number } = {},
): Promise<{ scans: number; positives: number; negatives: number; rule: string }> {
  const seed = opts.seed ?? 0;
  const csvPath = join(voiDir, "nodules.csv");
  await need(csvPath);
  const rows = await readCsv(csvPath, [
    "voi_file",
    "has_image",
    "patient_id",
    "seriesuid",
    "coordX",
    "coordY",
    "coordZ",
    "diameter_mm",
  ]);
  const nodules = rows.map((r, i) => ({
    voi: r.voi_file,
    hasImage: r.has_image === "1",
    seriesuid: r.seriesuid,
    world: [
      csvNumber(csvPath, r, "coordX", i),
      csvNumber(csvPath, r, "coordY", i),
      csvNumber(csvPath, r, "coordZ", i),
    ] as Vec3,
    diameter: csvNumber(csvPath, r, "diameter_mm", i),
  }));
  const withImage: typeof nodules = [];
  for (const n of nodules) if (n.hasImage && (await exists(join(voiDir, "image", n.voi)))) withImage.push(n);
  const patients = [...new Set(withImage.map((n) => lidcPatientOf(n.voi)))].sort();
  new PyRandom(seed).shuffle(patients);
  const subsetOf = new Map(patients.map((p, i) => [p, i % 10]));
  const order = new Map(patients.map((p, i) => [p, i]));
  let chosen = [...withImage].sort(
    (a, b) => order.get(lidcPatientOf(a.voi))! - order.get(lidcPatientOf(b.voi))! || (a.voi < b.voi ? -1 : 1),
  );
  if (opts.limit !== undefined) chosen = chosen.slice(0, opts.limit);
  const maxNeg = opts.negativesPerScan ?? 3;
  const candidates: Record<string, string | number>[] = [];
  const annotations: Record<string, string | number>[] = [];
  let positives = 0;
  let negatives = 0;
  for (const nod of chosen) {
    const id = nod.voi.replace(/\.nii(\.gz)?$/, "");
    const image = await loadVolume(join(voiDir, "image", nod.voi));
    const mask = await loadVolume(join(voiDir, "mask", nod.voi));
    const subset = subsetOf.get(lidcPatientOf(nod.voi))!;
    await mkdir(join(outDir, `subset${subset}`), { recursive: true });
    await writeMetaImage(join(outDir, `subset${subset}`, `${id}.mhd`), image);
    const inVoi = nodules.filter(
      (o) =>
        o.seriesuid === nod.seriesuid &&
        (o === nod || insideShape(image.shape, roundVoxel(worldLpsToVoxel(image, o.world)))),
    );
    for (const o of inVoi) {
      candidates.push({
        seriesuid: id,
        coordX: o.world[0],
        coordY: o.world[1],
        coordZ: o.world[2],
        class: 1,
      });
      annotations.push({
        seriesuid: id,
        coordX: o.world[0],
        coordY: o.world[1],
        coordZ: o.world[2],
        diameter_mm: o.diameter,
      });
      positives++;
    }
    // negatives
    const [nx, ny, nz] = image.shape;
    const reach = image.spacing.map((s) => Math.ceil(5 / s));
    let kept = 0;
    for (const fx of [0.15, 0.85])
      for (const fy of [0.15, 0.85])
        for (const fz of [0.15, 0.85]) {
          if (kept >= maxNeg) continue;
          const v: Vec3 = [Math.round(fx * (nx - 1)), Math.round(fy * (ny - 1)), Math.round(fz * (nz - 1))];
          let nearMask = false;
          for (let x = Math.max(0, v[0] - reach[0]); x <= Math.min(nx - 1, v[0] + reach[0]) && !nearMask; x++)
            for (
              let y = Math.max(0, v[1] - reach[1]);
              y <= Math.min(ny - 1, v[1] + reach[1]) && !nearMask;
              y++
            )
              for (let z = Math.max(0, v[2] - reach[2]); z <= Math.min(nz - 1, v[2] + reach[2]); z++)
                if (at(mask, [x, y, z]) > 0) {
                  nearMask = true;
                  break;
                }
          if (nearMask) continue;
          const w = voxelToWorldLps(image, v);
          const farFromNodules = inVoi.every(
            (o) => Math.hypot(w[0] - o.world[0], w[1] - o.world[1], w[2] - o.world[2]) > o.diameter / 2 + 5,
          );
          if (!farFromNodules) continue;
          let sum = 0;
          let cnt = 0;
          for (let x = Math.max(0, v[0] - 1); x <= Math.min(nx - 1, v[0] + 1); x++)
            for (let y = Math.max(0, v[1] - 1); y <= Math.min(ny - 1, v[1] + 1); y++) {
              sum += at(image, [x, y, v[2]]);
              cnt++;
            }
          const hu = sum / cnt;
          if (hu < -1000 || hu > -400) continue;
          candidates.push({ seriesuid: id, coordX: w[0], coordY: w[1], coordZ: w[2], class: 0 });
          negatives++;
          kept++;
        }
  }
  await writeCsv(
    join(outDir, "candidates_V2.csv"),
    ["seriesuid", "coordX", "coordY", "coordZ", "class"],
    candidates,
  );
  await writeCsv(
    join(outDir, "annotations.csv"),
    ["seriesuid", "coordX", "coordY", "coordZ", "diameter_mm"],
    annotations,
  );
  await writeFileAtomic(
    join(outDir, "SAMPLE_LAYOUT.md"),
    `${NCC_SAMPLE_RULE}\n\nScans: ${chosen.length}; positives: ${positives}; negatives: ${negatives}; seed ${seed}.\n`,
  );
  return { scans: chosen.length, positives, negatives, rule: NCC_SAMPLE_RULE };
}

// ---------------------------------------------------------------------------------------------
// NCS: the VOIs as they are (image/ + mask/), symlinked
// ---------------------------------------------------------------------------------------------

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
  const { discoverLidcPairs } = await import("./lidc.js");
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

// ---------------------------------------------------------------------------------------------
// ECC: CTA volumes + a candidate list with a stated labelling rule
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// LCS: LiTS-style volume-N.nii / segmentation-N.nii
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// BMS: BraTS-2018-style case folders from the DeepMedic BraTS 2015 cases
// ---------------------------------------------------------------------------------------------

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
export const BMS_SAMPLE_WINDOW = { min: -5, max: 5 } as const;

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
    const { readdir } = await import("node:fs/promises");
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
