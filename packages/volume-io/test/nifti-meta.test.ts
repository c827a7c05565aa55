/**
 * NIfTI header details on tiny files built here: the quaternion is renormalised (nibabel / nifti1_io),
 * a non-finite scl_slope falls back with a warning, and extensions and vox_offset are reported.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { affineOf, encodeNifti, geometryFromAffine, readVolume, type Volume } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "vio-nifti-meta-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A 4×5×6 int16 NIfTI-1 (values i − 50, x fastest on disk), identity geometry, vox_offset 352. */
function tiny(): Uint8Array {
  const vol: Volume = {
    data: Int16Array.from({ length: 4 * 5 * 6 }, (_, i) => i - 50),
    shape: [4, 5, 6],
    channels: 1,
    ...geometryFromAffine([
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ]),
    kind: "intensity",
    meta: {},
  };
  return encodeNifti(vol);
}

function write(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

describe("NIfTI quaternion, scl_slope fallback, extensions", () => {
  it("a qform quaternion d = 1.0000001 (float32 rounding) gives −2 exactly, not −2.0000005", async () => {
    const b = tiny();
    const dv = new DataView(b.buffer);
    dv.setInt16(252, 1, true); // qform_code
    dv.setInt16(254, 0, true); // sform_code: use the qform
    dv.setFloat32(76, 1, true); // qfac
    for (let i = 1; i <= 3; i++) dv.setFloat32(76 + i * 4, 2, true); // pixdim 2 mm
    dv.setFloat32(256, 0, true);
    dv.setFloat32(260, 0, true);
    dv.setFloat32(264, 1.0000001, true); // quatern_d: 180° about z, stored just above 1
    expect(dv.getFloat32(264, true)).toBeGreaterThan(1);
    const v = await readVolume(write("quat.nii", b));
    expect(v.meta.affineSource).toBe("qform");
    const a = affineOf(v);
    expect(Math.abs(a[0][0] + 2)).toBeLessThan(1e-12);
    expect(Math.abs(a[1][1] + 2)).toBeLessThan(1e-12);
    expect(Math.abs(a[2][2] - 2)).toBeLessThan(1e-12);
    expect(v.spacing.map((s) => Math.abs(s - 2) < 1e-12)).toEqual([true, true, true]);
  });

  for (const [label, slope] of [
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
  ] as const) {
    it(`scl_slope ${label} falls back to unscaled voxels with a warning`, async () => {
      const b = tiny();
      const dv = new DataView(b.buffer);
      dv.setFloat32(112, slope, true);
      dv.setFloat32(116, 7, true);
      const p = write(`slope-${label}.nii`, b);
      const warnings: string[] = [];
      const v = await readVolume(p, { onWarning: (m) => warnings.push(m) });
      expect(v.data).toBeInstanceOf(Int16Array);
      expect(v.data[0]).toBe(-50);
      expect(warnings).toEqual([
        `${p}: scl_slope is ${label}: voxels are read unscaled (slope 1, inter 0), as nifti1.h prescribes for a non-finite slope`,
      ]);
      expect(v.meta.warnings).toEqual(warnings);
    });
  }

  it("a valid file reads without warnings (control)", async () => {
    const warnings: string[] = [];
    const v = await readVolume(write("ok.nii", tiny()), { onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(v.meta.vox_offset).toBe(352);
    expect(v.meta.extensions).toEqual([]);
  });

  it("extensions (code, name, esize) and vox_offset are in the metadata; voxels still right", async () => {
    const base = tiny();
    const ext = new Uint8Array(4 + 32 + 16);
    const dv = new DataView(ext.buffer);
    ext[0] = 1; // extender: extensions follow
    dv.setInt32(4, 32, true);
    dv.setInt32(8, 6, true); // comment
    ext.set(new TextEncoder().encode("made in a test, 24 bytes"), 12);
    dv.setInt32(36, 16, true);
    dv.setInt32(40, 4, true); // AFNI
    const b = new Uint8Array(348 + ext.length + (base.length - 352));
    b.set(base.subarray(0, 348), 0);
    b.set(ext, 348);
    b.set(base.subarray(352), 348 + ext.length);
    new DataView(b.buffer).setFloat32(108, 348 + ext.length, true);
    const v = await readVolume(write("ext.nii", b));
    expect(v.meta.vox_offset).toBe(400);
    expect(v.meta.extensions).toEqual([
      { code: 6, name: "comment", size: 32 },
      { code: 4, name: "afni", size: 16 },
    ]);
    expect(v.data[0]).toBe(-50);
    expect(Array.from(v.data)).toEqual(Array.from((await readVolume(write("plain.nii", base))).data));
  });

  it("an extension whose esize runs past vox_offset is reported", async () => {
    const base = tiny();
    const b = new Uint8Array(348 + 20 + (base.length - 352));
    b.set(base.subarray(0, 348), 0);
    const dv = new DataView(b.buffer);
    b[348] = 1;
    dv.setInt32(352, 64, true);
    dv.setInt32(356, 6, true);
    b.set(base.subarray(352), 368);
    dv.setFloat32(108, 368, true);
    const p = write("ext-bad.nii", b);
    const warnings: string[] = [];
    const v = await readVolume(p, { onWarning: (m) => warnings.push(m) });
    expect(v.meta.extensions).toEqual([]);
    expect(warnings).toEqual([
      `${p}: NIfTI extension 1 declares esize 64 at byte 4 of the extension area (20 bytes): it and any after it are ignored`,
    ]);
  });
});
