/** Crop/pad, reorientation and geometry helpers: known answers and properties. */
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  affineOf,
  affineToQuatern,
  cropOrPad,
  geometryFromAffine,
  lpsToRas,
  type Matrix3,
  orientationCode,
  quaternToAffine,
  rasToLps,
  readVolume,
  reorientToCanonical,
} from "../src/index.js";
import { FIXTURES, vol, voxel, world } from "./helpers.js";

describe("cropOrPad", () => {
  it("pads with a value, crops back to the original, and keeps every voxel's world position", () => {
    const data = Int16Array.from({ length: 3 * 4 * 5 }, (_, i) => i);
    const v = vol(data, [3, 4, 5], { spacing: [0.5, 2, 3], origin: [10, 20, 30] });
    const p = cropOrPad(v, [6, 4, 2], { value: -1000 });
    expect(p.shape).toEqual([6, 4, 2]);
    // x padded by 3 (1 before, 2 after); z cropped by 3 (1 before, 2 after)
    expect(voxel(p, 0, 0, 0)).toBe(-1000);
    expect(voxel(p, 1, 2, 0)).toBe(voxel(v, 0, 2, 1));
    expect(voxel(p, 5, 0, 1)).toBe(-1000);
    expect(world(p, 1, 2, 0)).toEqual(world(v, 0, 2, 1));
    const back = cropOrPad(cropOrPad(v, [7, 8, 9]), [3, 4, 5]);
    expect(Array.from(back.data)).toEqual(Array.from(data));
    expect(back.origin).toEqual(v.origin);
  });
});

describe("reorientToCanonical and orientation codes", () => {
  it("orientationCode follows the nibabel convention", () => {
    expect(orientationCode(vol(new Uint8Array(1), [1, 1, 1]))).toBe("RAS");
    const lps: Matrix3 = [
      [-1, 0, 0],
      [0, -1, 0],
      [0, 0, 1],
    ];
    expect(orientationCode(lps)).toBe("LPS");
    const psr: Matrix3 = [
      [0, 0, 1],
      [-1, 0, 0],
      [0, -1, 0],
    ];
    expect(orientationCode(psr)).toBe("PIR");
  });
  it("is exact: every voxel keeps its value and world position", () => {
    const data = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const dir: Matrix3 = [
      [0, -1, 0],
      [0, 0, -1],
      [1, 0, 0],
    ];
    const v = vol(data, [2, 3, 4], { direction: dir, spacing: [1, 2, 3], origin: [4, 5, 6] });
    for (const code of ["RAS", "LPS", "SAL", "PIR", "ILA"]) {
      const r = reorientToCanonical(v, code);
      expect(orientationCode(r)).toBe(code);
      // find each value's position in both volumes
      for (let x = 0; x < r.shape[0]; x++)
        for (let y = 0; y < r.shape[1]; y++)
          for (let z = 0; z < r.shape[2]; z++) {
            const val = voxel(r, x, y, z);
            const i = val;
            const ox = Math.floor(i / 12);
            const oy = Math.floor((i % 12) / 4);
            const oz = i % 4;
            const a = world(r, x, y, z);
            const b = world(v, ox, oy, oz);
            for (let k = 0; k < 3; k++) expect(a[k]).toBeCloseTo(b[k], 9);
          }
    }
  });
  it("the permuted/flipped CT re-encoding equals the plain one after reorientation", async () => {
    const dir = resolve(FIXTURES, "formats/generated_from_real_ct");
    const plain = await readVolume(resolve(dir, "n1_int16_le.nii.gz"));
    const perm = await readVolume(resolve(dir, "n1_permuted_flipped_axes.nii.gz"));
    const r = reorientToCanonical(perm, orientationCode(plain));
    expect(r.shape).toEqual(plain.shape);
    expect(Array.from(r.data)).toEqual(Array.from(plain.data));
    const a = affineOf(r);
    const b = affineOf(plain);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) expect(a[i][j]).toBeCloseTo(b[i][j], 3);
  });
  it("rejects invalid codes", () => {
    expect(() => reorientToCanonical(vol(new Uint8Array(1), [1, 1, 1]), "RRS")).toThrow(RangeError);
  });
});

describe("geometry", () => {
  it("lpsToRas / rasToLps negate x and y and are inverses", () => {
    expect(lpsToRas([1, 2, 3])).toEqual([-1, -2, 3]);
    expect(rasToLps(lpsToRas([4, -5, 6]))).toEqual([4, -5, 6]);
    const m = [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [9, 10, 11, 12],
      [0, 0, 0, 1],
    ] as Parameters<typeof lpsToRas>[0] & number[][];
    expect(lpsToRas(m as never)).toEqual([
      [-1, -2, -3, -4],
      [-5, -6, -7, -8],
      [9, 10, 11, 12],
      [0, 0, 0, 1],
    ]);
  });
  it("qform encode/decode reproduces rigid affines, proper and improper", () => {
    const rot = (ax: number, ay: number, az: number): number[][] => {
      const [cx, sx, cy, sy, cz, sz] = [
        Math.cos(ax),
        Math.sin(ax),
        Math.cos(ay),
        Math.sin(ay),
        Math.cos(az),
        Math.sin(az),
      ];
      const Rx = [
        [1, 0, 0],
        [0, cx, -sx],
        [0, sx, cx],
      ];
      const Ry = [
        [cy, 0, sy],
        [0, 1, 0],
        [-sy, 0, cy],
      ];
      const Rz = [
        [cz, -sz, 0],
        [sz, cz, 0],
        [0, 0, 1],
      ];
      const mul = (a: number[][], b: number[][]) =>
        a.map((r) => [0, 1, 2].map((c) => r[0] * b[0][c] + r[1] * b[1][c] + r[2] * b[2][c]));
      return mul(mul(Rz, Ry), Rx);
    };
    for (const [ax, ay, az, flip] of [
      [0, 0, 0, 1],
      [0.3, -1.1, 2.5, 1],
      [Math.PI, 0, 0, -1],
      [0.1, 3.0, -0.4, -1],
      [Math.PI / 2, Math.PI / 2, 0, 1],
    ]) {
      const R = rot(ax, ay, az);
      const sp = [0.7, 1.3, 2.5];
      const A = [
        [R[0][0] * sp[0], R[0][1] * sp[1], R[0][2] * sp[2] * flip, 10],
        [R[1][0] * sp[0], R[1][1] * sp[1], R[1][2] * sp[2] * flip, -20],
        [R[2][0] * sp[0], R[2][1] * sp[1], R[2][2] * sp[2] * flip, 30],
        [0, 0, 0, 1],
      ] as Parameters<typeof affineToQuatern>[0];
      const back = quaternToAffine(affineToQuatern(A));
      for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) expect(back[r][c]).toBeCloseTo(A[r][c], 9);
    }
  });
  it("geometryFromAffine ∘ affineOf is the identity, including a sheared (gantry-tilt) affine", () => {
    const A = [
      [-0.5, 0, 0, 100],
      [0, 0.5, 0.4, -50],
      [0, 0, 2.3, 20],
      [0, 0, 0, 1],
    ] as Parameters<typeof geometryFromAffine>[0];
    const g = geometryFromAffine(A);
    expect(affineOf(g)).toEqual(A.map((r) => r.map((v) => v)));
  });
});
