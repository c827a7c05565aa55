/** Format detection by magic bytes when the file name says nothing. */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { detectFormat, readVolume } from "../src/index.js";
import { DATA, HAVE_SHARED } from "./helpers.js";

describe.skipIf(!HAVE_SHARED)("detectFormat by magic bytes", () => {
  const dir = mkdtempSync(join(tmpdir(), "vio-detect-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cases: [string, string][] = [
    ["formats/generated_from_real_ct/n1_int16_le.nii.gz", "nifti"],
    ["formats/generated_from_real_ct/n2_int16.nii", "nifti"],
    ["formats/generated_from_real_ct/mha_float32.mha", "metaimage"],
    ["formats/dicom/pydicom/CT_small.dcm", "dicom"],
  ];
  for (const [src, format] of cases)
    it(`${src} renamed without extension → ${format}`, async () => {
      const dst = join(dir, src.replace(/[/.]/g, "_"));
      copyFileSync(resolve(DATA, src), dst);
      expect(await detectFormat(dst)).toBe(format);
      const a = await readVolume(dst);
      const b = await readVolume(resolve(DATA, src));
      expect(Array.from(a.data)).toEqual(Array.from(b.data));
    });
  it("a folder is a DICOM series", async () => {
    expect(await detectFormat(resolve(DATA, "ct/chest_copdgene_cip_ct64/dicom"))).toBe("dicom");
  });
});
