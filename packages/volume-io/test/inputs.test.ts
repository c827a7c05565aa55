/** collectVolumeInputs: the one input collection of every command (DICOM series folders included). */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectOneVolume, collectVolumeInputs, readVolume, VolumeReadError } from "../src/index.js";
import { dicomFile } from "./dicom-writer.js";
import { FIXTURES } from "./helpers.js";

const CT_DCM = resolve(FIXTURES, "formats/dicom/pydicom/CT_small.dcm");
const NII = resolve(FIXTURES, "formats/generated_from_real_ct/n1_int16_le.nii.gz");
const MHA = resolve(FIXTURES, "formats/generated_from_real_ct/mha_int16_zlib.mha");

describe("collectVolumeInputs (fixtures/volume-io: pydicom CT_small.dcm, CIP NIfTI/MetaImage crops)", () => {
  const dir = mkdtempSync(join(tmpdir(), "vio-inputs-"));
  const series = join(dir, "data", "series");
  beforeAll(() => {
    // data/ct.nii.gz beside data/series/ (a DICOM series: one slice named like a scanner does, no
    // extension) and data/notes.txt, data/scan.raw (not volumes: passed over inside a folder)
    mkdirSync(series, { recursive: true });
    copyFileSync(CT_DCM, join(series, "IM0001"));
    copyFileSync(NII, join(dir, "data", "ct.nii.gz"));
    writeFileSync(join(dir, "data", "notes.txt"), "not a volume\n");
    writeFileSync(join(dir, "data", "scan.raw"), new Uint8Array(16));
    mkdirSync(join(dir, "empty", "sub"), { recursive: true });
    writeFileSync(join(dir, "empty", "sub", "readme.md"), "nothing\n");
    mkdirSync(join(dir, "luna", "subset0"), { recursive: true });
    mkdirSync(join(dir, "luna", "subset1"), { recursive: true });
    for (const [s, n] of [
      ["subset0", "b.mhd"],
      ["subset0", "a.mhd"],
      ["subset1", "c.mhd"],
    ])
      writeFileSync(join(dir, "luna", s, n), "NDims = 3\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a DICOM folder alone is one dicom-series input that readVolume reads (128×128×1)", async () => {
    const found = await collectVolumeInputs([series]);
    expect(found).toEqual([{ path: series, kind: "dicom-series", format: "dicom" }]);
    const vol = await readVolume(found[0].path);
    expect(vol.shape).toEqual([128, 128, 1]);
  });

  it("a NIfTI beside a DICOM folder: both counted, the series first, non-volumes passed over", async () => {
    const found = await collectVolumeInputs([join(dir, "data")]);
    expect(found.map((f) => [f.path, f.kind, f.format])).toEqual([
      [join(dir, "data", "ct.nii.gz"), "file", "nifti"],
      [series, "dicom-series", "dicom"],
    ]);
    // not recursive: the sub-folder's series is not searched, the NIfTI alone remains
    expect((await collectVolumeInputs([join(dir, "data")], { recursive: false })).map((f) => f.path)).toEqual(
      [join(dir, "data", "ct.nii.gz")],
    );
  });

  it("files in argument order, any readVolume format (MetaImage, single DICOM file, .npy)", async () => {
    const found = await collectVolumeInputs([MHA, CT_DCM, NII]);
    expect(found.map((f) => f.format)).toEqual(["metaimage", "dicom", "nifti"]);
    expect(found.every((f) => f.kind === "file")).toBe(true);
  });

  it("LUNA16 roots honour folds, sorted by name within a subset", async () => {
    const luna = join(dir, "luna");
    expect((await collectVolumeInputs([luna])).map((f) => f.path.slice(luna.length + 1))).toEqual([
      join("subset0", "a.mhd"),
      join("subset0", "b.mhd"),
      join("subset1", "c.mhd"),
    ]);
    expect(await collectVolumeInputs([luna], { folds: [1] })).toHaveLength(1);
    await expect(collectVolumeInputs([luna], { folds: [2] })).rejects.toThrow(
      `${luna}: LUNA16 fold folder subset2 is missing`,
    );
    // a subsetN that is a file, not a folder: named, not a bare system error
    const odd = join(dir, "luna-odd");
    mkdirSync(odd);
    writeFileSync(join(odd, "subset4"), "not a folder\n");
    await expect(collectVolumeInputs([odd])).rejects.toThrow(
      new RegExp(`^${join(odd, "subset4")}: cannot list the LUNA16 fold folder \\(ENOTDIR`),
    );
  });

  it("an input it cannot use is an error naming it, never dropped", async () => {
    const txt = join(dir, "data", "notes.txt");
    await expect(collectVolumeInputs([NII, txt])).rejects.toThrow(
      new VolumeReadError(txt, "unrecognised format (not NIfTI, Analyze, MetaImage, NumPy .npy or DICOM)"),
    );
    const missing = join(dir, "nope.nii.gz");
    await expect(collectVolumeInputs([NII, missing])).rejects.toThrow(`${missing}: no such file or folder`);
    const empty = join(dir, "empty");
    await expect(collectVolumeInputs([series, empty])).rejects.toThrow(
      `${empty}: no volume found (no .nii, .nii.gz, .hdr, .mhd, .mha file and no DICOM series in it or below)`,
    );
  });

  it("collectOneVolume: a folder must hold exactly one volume", async () => {
    expect(await collectOneVolume(series)).toEqual({ path: series, kind: "dicom-series", format: "dicom" });
    expect((await collectOneVolume(NII)).kind).toBe("file");
    await expect(collectOneVolume(join(dir, "data"))).rejects.toThrow(
      `${join(dir, "data")}: holds 2 volumes (${join(dir, "data", "ct.nii.gz")}, ${series}); name one of them`,
    );
  });
});

describe("collectVolumeInputs({ check: true }): unusable inputs fail up front, the actual file named", () => {
  const dir = mkdtempSync(join(tmpdir(), "vio-check-"));
  // an RTSTRUCT: a DICOM data set without PixelData
  const rtstruct = dicomFile({
    elements: [
      [0x00080016, "UI", "1.2.840.10008.5.1.4.1.1.481.3"],
      [0x00080060, "CS", "RTSTRUCT"],
    ],
  });
  beforeAll(() => {
    // mixed/: a good NIfTI, a broken .nii.gz (gzip of no NIfTI header) and an RTSTRUCT .dcm
    mkdirSync(join(dir, "mixed"));
    copyFileSync(NII, join(dir, "mixed", "a-good.nii.gz"));
    writeFileSync(join(dir, "mixed", "b-broken.nii.gz"), gzipSync(new Uint8Array(400).fill(7)));
    writeFileSync(join(dir, "mixed", "rt.dcm"), rtstruct);
    // junk/: .dcm files that are not DICOM images at all
    mkdirSync(join(dir, "junk"));
    writeFileSync(join(dir, "junk", "x.dcm"), "not dicom at all, just text");
    // rtonly/: an RTSTRUCT alone
    mkdirSync(join(dir, "rtonly"));
    writeFileSync(join(dir, "rtonly", "rt.dcm"), rtstruct);
    // series/: a real CT slice beside an RTSTRUCT: a series (one image is enough)
    mkdirSync(join(dir, "series"));
    copyFileSync(CT_DCM, join(dir, "series", "ct.dcm"));
    writeFileSync(join(dir, "series", "rt.dcm"), rtstruct);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("names the broken NIfTI in a folder with an RTSTRUCT, not the folder", async () => {
    // without check the folder is a "series" (from rt.dcm) and the broken file is not looked at
    expect((await collectVolumeInputs([join(dir, "mixed")])).map((f) => f.kind)).toEqual([
      "dicom-series",
      "file",
      "file",
    ]);
    const err = await collectVolumeInputs([join(dir, "mixed")], { check: true }).catch((e) => e);
    expect(err).toBeInstanceOf(VolumeReadError);
    expect(err.message).toMatch(new RegExp(`^${join(dir, "mixed", "b-broken.nii.gz")}: `));
  });

  it("a good input before a junk folder: the junk folder fails, naming why, before any read", async () => {
    await expect(collectVolumeInputs([NII, join(dir, "junk")], { check: true })).rejects.toThrow(
      `${join(dir, "junk")}: no volume found (no .nii, .nii.gz, .hdr, .mhd, .mha file and no DICOM series in it or below; 1 DICOM file in ${join(dir, "junk")} but no DICOM image (${join(dir, "junk", "x.dcm")}: not a DICOM file`,
    );
    await expect(collectVolumeInputs([join(dir, "rtonly")], { check: true })).rejects.toThrow(
      "but no DICOM image (" +
        `${join(dir, "rtonly", "rt.dcm")}: not a DICOM image: no PixelData (modality RTSTRUCT, SOP class 1.2.840.10008.5.1.4.1.1.481.3))`,
    );
    // a single RTSTRUCT file named on the command line
    await expect(collectVolumeInputs([join(dir, "rtonly", "rt.dcm")], { check: true })).rejects.toThrow(
      `${join(dir, "rtonly", "rt.dcm")}: not a DICOM image: no PixelData (modality RTSTRUCT`,
    );
  });

  it("good inputs pass the check unchanged: a series with one image beside an RTSTRUCT, NIfTI, MetaImage", async () => {
    const found = await collectVolumeInputs([join(dir, "series"), NII, MHA, CT_DCM], { check: true });
    expect(found.map((f) => [f.path, f.kind])).toEqual([
      [join(dir, "series"), "dicom-series"],
      [NII, "file"],
      [MHA, "file"],
      [CT_DCM, "file"],
    ]);
  });
});
