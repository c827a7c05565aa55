import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  csvNumber,
  insideShape,
  lidcPatientOf,
  loadVolume,
  PyRandom,
  readCsv,
  roundVoxel,
  voxelToWorldLps,
  worldLpsToVoxel,
  writeCsv,
  writeFileAtomic,
  writeMetaImage,
} from "@models-genesis/datasets";
import type { Vec3, Volume } from "@models-genesis/volume-io";
import { exists, need } from "../sample-layout.js";

function at(vol: Volume, v: Vec3): number {
  return vol.data[((v[0] * vol.shape[1] + v[1]) * vol.shape[2] + v[2]) * vol.channels];
}

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
