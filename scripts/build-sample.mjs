#!/usr/bin/env node
// Rebuilds apps/cli/sample/ — the small real data set `pnpm demo` runs on — from the project's
// shared data folder (default ../shared/data; GENESIS_SHARED_DIR overrides ../shared).
// Only files whose licences allow redistribution are taken (see apps/cli/sample/NOTICE.md):
//   - chest-ct/: two COPDGene chest CTs shipped as Chest Imaging Platform test data (CIP licence)
//   - lidc-voi/: LIDC-IDRI nodule volumes of interest with radiologist masks (CC BY 3.0), all
//     VOIs of patients LIDC-IDRI-0001 … LIDC-IDRI-0149.
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const shared = process.env.GENESIS_SHARED_DIR ?? resolve(root, "../shared");
const out = join(root, "apps/cli/sample");
const lastPatient = 149;

for (const d of ["chest-ct", "lidc-voi"]) rmSync(join(out, d), { recursive: true, force: true });
mkdirSync(join(out, "chest-ct"), { recursive: true });
copyFileSync(
  join(shared, "data/ct/chest_copdgene_cip_ct64/ct.nii.gz"),
  join(out, "chest-ct/copdgene_10002K_ct64.nii.gz"),
);
copyFileSync(
  join(shared, "data/ct/chest_copdgene_cip_testinput/ct.nii.gz"),
  join(out, "chest-ct/copdgene_testinput.nii.gz"),
);

const voiDir = join(shared, "data/ct/lidc_nodule_vois");
let n = 0;
for (const sub of ["image", "mask"]) mkdirSync(join(out, "lidc-voi", sub), { recursive: true });
for (const name of readdirSync(join(voiDir, "image")).sort()) {
  const m = /^LIDC-IDRI-(\d{4})_/.exec(name);
  if (!m || Number(m[1]) > lastPatient) continue;
  for (const sub of ["image", "mask"])
    copyFileSync(join(voiDir, sub, name), join(out, "lidc-voi", sub, name));
  n++;
}
process.stderr.write(`sample: 2 chest CTs and ${n} LIDC VOIs (+ masks) written to ${out}\n`);
