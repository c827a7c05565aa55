#!/usr/bin/env node
// Rebuilds fixtures/ — the small test fixtures that let the test suites run on a fresh clone —
// from the project's shared folder (default ../shared beside the repository; GENESIS_SHARED_DIR
// overrides it), and writes fixtures/SHA256SUMS. Provenance and licences: fixtures/PROVENANCE.md.
//
//   node scripts/make-fixtures.mjs           copy the files and rewrite fixtures/SHA256SUMS
//   node scripts/make-fixtures.mjs --check   compare fixtures/ with the shared folder and with
//                                            SHA256SUMS; exit 1 on any difference
//
// Every file is copied byte for byte, except lidc/nodules.csv, which keeps the rows of the VOIs that
// apps/cli/sample ships. The real CT volumes the task tests use are not copied here: they are
// already in apps/cli/sample (scripts/build-sample.mjs).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const shared = process.env.GENESIS_SHARED_DIR ?? resolve(root, "../shared");
const out = join(root, "fixtures");
const check = process.argv.includes("--check");

/** fixtures/<target> ← <shared>/<source>. */
const FILES = [
  ...[
    "README.json",
    "input_ncdhw.npy",
    "unet3d_w4_zip.pt",
    "unet3d_w4_legacy.pt",
    "unet3d_w4_expected_batchstats.npy",
    "unet3d_w4_expected_runningstats.npy",
    "keras_unet3d_w4.h5",
    "keras_unet3d_w4_fullmodel.h5",
    "keras_unet3d_w4_expected.npy",
  ].map((f) => ({ source: `fixtures/parity/${f}`, target: `parity/${f}` })),
  { source: "fixtures/transforms/bezier_cases.json", target: "transforms/bezier_cases.json" },
  // volume-io: four re-encodings of the CIP chest CT and four pydicom test files, same layout as data/
  ...[
    "formats/generated_from_real_ct/n1_int16_le.nii.gz",
    "formats/generated_from_real_ct/n1_permuted_flipped_axes.nii.gz",
    "formats/generated_from_real_ct/n2_int16.nii",
    "formats/generated_from_real_ct/mha_int16_zlib.mha",
    "formats/dicom/pydicom/CT_small.dcm",
    "formats/dicom/pydicom/MR_small.dcm",
    "formats/dicom/pydicom/MR_small_jp2klossless.dcm",
    "formats/dicom/pydicom/rtstruct.dcm",
  ].map((f) => ({ source: `data/${f}`, target: `volume-io/${f}` })),
  // the nodule table of the LIDC VOIs in apps/cli/sample: the header and the rows of patients
  // LIDC-IDRI-0001 … LIDC-IDRI-0149 (one CSV row per line; patient_id is the third column)
  {
    source: "data/ct/lidc_nodule_vois/nodules.csv",
    target: "lidc/nodules.csv",
    filter: (text) => {
      const [header, ...rows] = text.split("\n").filter((l) => l.length > 0);
      const kept = rows.filter((l) => Number(l.split(",")[2].slice("LIDC-IDRI-".length)) <= 149);
      return `${[header, ...kept].join("\n")}\n`;
    },
  },
];

/** The bytes of a fixture: the source file, or the rows `filter` keeps of it. */
const made = (src, filter) => (filter ? Buffer.from(filter(readFileSync(src, "utf8"))) : readFileSync(src));
const sha256 = (file) => createHash("sha256").update(readFileSync(file)).digest("hex");
const sumsFile = join(out, "SHA256SUMS");

if (check) {
  const listed = new Map(
    readFileSync(sumsFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(/\s+/))
      .map(([h, f]) => [f, h]),
  );
  let bad = 0;
  for (const { source, target, filter } of FILES) {
    const mine = sha256(join(out, target));
    if (listed.get(target) !== mine) {
      process.stderr.write(`${target}: checksum differs from SHA256SUMS\n`);
      bad++;
    }
    const src = join(shared, source);
    const expected = existsSync(src) ? made(src, filter) : null;
    if (expected && createHash("sha256").update(expected).digest("hex") !== mine) {
      process.stderr.write(`${target}: differs from ${src}\n`);
      bad++;
    }
  }
  process.stderr.write(bad ? `fixtures: ${bad} difference(s)\n` : `fixtures: ${FILES.length} files match\n`);
  process.exit(bad ? 1 : 0);
}

const lines = [];
for (const { source, target, filter } of FILES) {
  mkdirSync(dirname(join(out, target)), { recursive: true });
  writeFileSync(join(out, target), made(join(shared, source), filter));
  lines.push(`${sha256(join(out, target))}  ${target}`);
}
writeFileSync(sumsFile, `${lines.join("\n")}\n`);
process.stderr.write(`fixtures: ${FILES.length} files copied from ${shared} to ${out}\n`);
