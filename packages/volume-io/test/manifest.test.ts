/**
 * Every CT/MRI volume and DICOM series listed in shared/data/manifest.json reads with the manifest's
 * shape and spacing (and intensity range); a deterministic sample of 20 LIDC nodule VOIs.
 */
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { readVolume, VolumeReadError, volumeStats } from "../src/index.js";
import { closeTo, DATA, HAVE_SHARED, type ManifestEntry, manifest } from "./helpers.js";

const VOLUME_FORMAT = /^(NIfTI|MetaImage|DICOM series)/;

function checkShapeSpacing(
  v: Awaited<ReturnType<typeof readVolume>>,
  shape: number[],
  spacing: number[] | null | undefined,
) {
  expect([...v.shape]).toEqual(shape.slice(0, 3));
  expect(v.channels).toBe(shape.slice(3).reduce((a, b) => a * b, 1));
  // DICOM z spacing: the manifest used one slice gap, we use the mean over all gaps (relative 1e-3)
  if (spacing)
    for (let i = 0; i < 3; i++)
      expect(
        closeTo(v.spacing[i], spacing[i], i === 2 ? 1e-3 : 1e-5, 1e-6),
        `spacing[${i}] ${v.spacing[i]} vs ${spacing[i]}`,
      ).toBe(true);
}

describe.skipIf(!HAVE_SHARED)(
  "manifest: CT/MRI volumes and DICOM series (needs ../shared: the 115 MB of real volumes are not shipped)",
  () => {
    const entries: ManifestEntry[] = HAVE_SHARED
      ? manifest().filter(
          (e) =>
            (e.path.startsWith("ct/") || e.path.startsWith("mri/")) &&
            VOLUME_FORMAT.test(e.format ?? "") &&
            !e.files,
        )
      : [];

    it("covers the CT and MRI folders", () => {
      expect(entries.length).toBeGreaterThanOrEqual(50);
    });

    for (const e of entries) {
      // lossy baseline/extended JPEG is the one family without a decoder here
      const compressed = /DICOM series \(1\.2\.840\.10008\.1\.2\.4\.5[01]\)/.test(e.format ?? "");
      it(`${e.path} (${e.format})`, async () => {
        const path = resolve(DATA, e.path);
        if (compressed) {
          // JPEG-family DICOM is refused with a message that names the transfer syntax
          const err = await readVolume(path).catch((x: unknown) => x);
          expect(err).toBeInstanceOf(VolumeReadError);
          expect(String((err as Error).message)).toMatch(
            /transfer syntax 1\.2\.840\.10008\.1\.2\.4\.\d+ \(JPEG/,
          );
          return;
        }
        const v = await readVolume(path);
        checkShapeSpacing(v, e.shape as number[], e.spacing);
        const st = volumeStats(v);
        if (typeof e.min === "number")
          expect(closeTo(st.min, e.min, 1e-5, 1e-3), `min ${st.min} vs ${e.min}`).toBe(true);
        if (typeof e.max === "number")
          expect(closeTo(st.max, e.max, 1e-5, 1e-3), `max ${st.max} vs ${e.max}`).toBe(true);
      });
    }

    const folders = HAVE_SHARED ? manifest().filter((e) => e.files && e.path.startsWith("ct/")) : [];
    for (const folder of folders) {
      // deterministic sample: 20 evenly spaced VOIs of the folder
      const files = folder.files ?? [];
      const step = Math.max(1, Math.floor(files.length / 20));
      const sample = files.filter((_, i) => i % step === 0).slice(0, 20);
      it(`${folder.path}: ${sample.length} of ${files.length} VOIs`, async () => {
        expect(sample.length).toBe(Math.min(20, files.length));
        for (const f of sample) {
          const v = await readVolume(resolve(DATA, folder.path, f.name));
          checkShapeSpacing(v, f.shape, f.spacing);
          const st = volumeStats(v);
          expect(st.min).toBe(f.min);
          expect(st.max).toBe(f.max);
        }
      });
    }
  },
);
