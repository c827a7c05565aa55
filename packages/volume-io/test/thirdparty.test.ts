/**
 * Third-party edge cases in shared/data/formats (nibabel, NIFTI-Reader-JS, niivue, ITKElastix,
 * pydicom, dwv): shapes/spacings/ranges from the manifest, refusals with clear messages.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  affineOf,
  countNonFinite,
  orientationCode,
  readVolume,
  reorientToCanonical,
  VolumeReadError,
  volumeStats,
} from "../src/index.js";
import { closeTo, DATA, HAVE_SHARED, type ManifestEntry, manifest } from "./helpers.js";

const F = (p: string) => resolve(DATA, "formats", p);

async function rejects(path: string, pattern: RegExp): Promise<void> {
  const err = await readVolume(path).catch((x: unknown) => x);
  expect(err).toBeInstanceOf(VolumeReadError);
  expect((err as VolumeReadError).message).toContain(path);
  expect((err as VolumeReadError).message).toMatch(pattern);
}

describe.skipIf(!HAVE_SHARED)(
  "third-party NIfTI / MetaImage / DICOM edge cases (needs ../shared: the third-party corpus is not shipped)",
  () => {
    const entries: ManifestEntry[] = HAVE_SHARED
      ? manifest().filter((e) => /^formats\/(nifti|metaimage|dicom)\//.test(e.path) && Array.isArray(e.shape))
      : [];
    const refused: Record<string, RegExp> = {
      "formats/nifti/niivue/complex.nii.gz": /datatype 32 \(complex64\) is not supported/,
      "formats/dicom/pydicom/JPEG-lossy.dcm": /1\.2\.840\.10008\.1\.2\.4\.51 \(JPEG Extended/,
    };

    it("has the edge-case files", () => {
      expect(entries.length).toBeGreaterThanOrEqual(35);
    });

    for (const e of entries) {
      it(`${e.path}`, async () => {
        const path = resolve(DATA, e.path);
        if (refused[e.path]) return rejects(path, refused[e.path]);
        const v = await readVolume(path);
        const shape = e.shape as number[];
        const isDicomFile = e.path.startsWith("formats/dicom/");
        if (isDicomFile) {
          // the manifest lists pydicom's pixel_array shape: (rows, cols) or (frames, rows, cols)
          const [rows, cols, frames] =
            shape.length === 3 ? [shape[1], shape[2], shape[0]] : [shape[0], shape[1], 1];
          expect([...v.shape]).toEqual([cols, rows, frames]);
          // PixelSpacing is (row spacing, column spacing) = (y, x)
          if (e.spacing && e.spacing.length === 2) {
            expect(v.spacing[0]).toBeCloseTo(e.spacing[1], 5);
            expect(v.spacing[1]).toBeCloseTo(e.spacing[0], 5);
          }
        } else {
          const sp = [...shape, 1, 1].slice(0, 3);
          expect([...v.shape]).toEqual(sp);
          expect(v.channels).toBe(shape.slice(3).reduce((a, b) => a * b, 1));
          if (e.spacing)
            for (let i = 0; i < Math.min(3, e.spacing.length); i++)
              expect(v.spacing[i]).toBeCloseTo(e.spacing[i], 5);
        }
        const st = volumeStats(v);
        if (typeof e.min === "number")
          expect(closeTo(st.min, e.min, 1e-5, 1e-3), `min ${st.min} vs ${e.min}`).toBe(true);
        if (typeof e.max === "number")
          expect(closeTo(st.max, e.max, 1e-5, 1e-3), `max ${st.max} vs ${e.max}`).toBe(true);
      });
    }

    it("not-nifti.nii (random bytes) is rejected", () =>
      rejects(F("nifti/nifti_reader_js/not-nifti.nii"), /not a NIfTI or Analyze file|wrong magic/));
    it("an RT Structure Set (no pixels) is rejected", () =>
      rejects(F("dicom/pydicom/rtstruct.dcm"), /no PixelData/));

    it("resampled_anat_moved.nii: NaN voxels are counted (checked against a direct big-endian float32 scan)", async () => {
      const path = F("nifti/nibabel/resampled_anat_moved.nii");
      const v = await readVolume(path);
      const raw = readFileSync(path);
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const off = dv.getFloat32(108, false);
      let nan = 0;
      for (let o = off; o + 4 <= raw.length; o += 4) if (Number.isNaN(dv.getFloat32(o, false))) nan++;
      expect(nan).toBeGreaterThan(0);
      expect(countNonFinite(v)).toBe(nan);
      expect(volumeStats(v).nonFinite).toBe(nan);
    });

    it("niivue orientation/*: the same brain in six storage orders is identical after reorientToCanonical('RAS')", async () => {
      const codes = ["RAS", "LAS", "LPS", "PSR", "IPL", "SLA"];
      const vols = await Promise.all(codes.map((c) => readVolume(F(`nifti/niivue/orientation/${c}.nii.gz`))));
      const ras = vols.map((v) => reorientToCanonical(v, "RAS"));
      const ref = ras[0];
      const refAff = affineOf(ref);
      for (let i = 0; i < codes.length; i++) {
        expect(ras[i].shape, codes[i]).toEqual(ref.shape);
        expect(Array.from(ras[i].data), codes[i]).toEqual(Array.from(ref.data));
        const a = affineOf(ras[i]);
        for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) expect(a[r][c]).toBeCloseTo(refAff[r][c], 3);
      }
    });

    it("the CIP ct64 DICOM series equals its NIfTI conversion (values, shape and RAS affine)", async () => {
      const dcm = await readVolume(resolve(DATA, "ct/chest_copdgene_cip_ct64/dicom"));
      const nii = await readVolume(resolve(DATA, "ct/chest_copdgene_cip_ct64/ct.nii.gz"));
      expect(dcm.shape).toEqual(nii.shape);
      expect(Array.from(dcm.data)).toEqual(Array.from(nii.data));
      const a = affineOf(dcm);
      const b = affineOf(nii);
      for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) expect(a[r][c]).toBeCloseTo(b[r][c], 2);
    });

    it("the JPEG 2000 CT series (uint16 + RescaleIntercept −1024) lies on the grid of its TotalSegmentator label map", async () => {
      const ct = await readVolume(resolve(DATA, "ct/abdomen_totalseg_dicom_j2k/dicom"));
      const seg = await readVolume(resolve(DATA, "ct/abdomen_totalseg_dicom_j2k/seg_total.nii.gz"), {
        kind: "label",
      });
      expect(ct.meta.transferSyntax).toBe("1.2.840.10008.1.2.4.90");
      expect(ct.shape).toEqual(seg.shape);
      // the label map was stored LAS (dcm2niix flips rows); the same grid once reoriented
      expect(orientationCode(seg)).toBe("LAS");
      const a = affineOf(reorientToCanonical(ct, "LAS"));
      const b = affineOf(seg);
      for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) expect(a[r][c]).toBeCloseTo(b[r][c], 3);
      expect(volumeStats(ct).min).toBe(-1024);
    });

    it("the dcmqi 3-slice series is sorted by ImagePositionPatient, not by file name", async () => {
      const v = await readVolume(resolve(DATA, "ct/abdomen_dcmqi_3slice/dicom"));
      const files = v.meta.files as string[];
      // 01.dcm is the top slice, so ascending z puts it last
      expect(files[files.length - 1]).toMatch(/01\.dcm$/);
      expect(v.direction[2][2]).toBeGreaterThan(0.99);
    });

    it("RLE, JPEG 2000 lossless, JPEG-LS lossless, big-endian and implicit-VR MR_small decode to identical pixels", async () => {
      const ref = await readVolume(F("dicom/pydicom/MR_small.dcm"));
      for (const name of [
        "MR_small_RLE",
        "MR_small_jp2klossless",
        "MR_small_jpeg_ls_lossless",
        "MR_small_bigendian",
        "MR_small_implicit",
      ]) {
        const v = await readVolume(F(`dicom/pydicom/${name}.dcm`));
        expect(Array.from(v.data), name).toEqual(Array.from(ref.data));
      }
    });
  },
);
