/** Format detection by magic bytes when the file name says nothing. */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { detectFormat, readVolume } from "../src/index.js";
import { DATA, FIXTURES, HAVE_SHARED } from "./helpers.js";

describe("detectFormat by magic bytes (files shipped in fixtures/volume-io)", () => {
  const dir = mkdtempSync(join(tmpdir(), "vio-detect-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cases: [string, string][] = [
    ["formats/generated_from_real_ct/n1_int16_le.nii.gz", "nifti"],
    ["formats/generated_from_real_ct/n2_int16.nii", "nifti"],
    ["formats/generated_from_real_ct/mha_int16_zlib.mha", "metaimage"],
    ["formats/dicom/pydicom/CT_small.dcm", "dicom"],
  ];
  for (const [src, format] of cases)
    it(`${src} renamed without extension → ${format}`, async () => {
      const dst = join(dir, src.replace(/[/.]/g, "_"));
      copyFileSync(resolve(FIXTURES, src), dst);
      expect(await detectFormat(dst)).toBe(format);
      const a = await readVolume(dst);
      const b = await readVolume(resolve(FIXTURES, src));
      expect(Array.from(a.data)).toEqual(Array.from(b.data));
    });
  it.skipIf(!HAVE_SHARED)(
    "a folder is a DICOM series (needs ../shared: the CIP series is not shipped)",
    async () => {
      expect(await detectFormat(resolve(DATA, "ct/chest_copdgene_cip_ct64/dicom"))).toBe("dicom");
    },
  );
});
