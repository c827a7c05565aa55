/** The one intensity window, the one resampler and the preprocessing record: known answers and properties. */
import { describe, expect, it } from "vitest";
import {
  CT_WINDOW,
  countNonFinite,
  MRI_WINDOW,
  recordFor,
  resample,
  resampleArray,
  type Vec3,
  VolumeValueError,
  validateRecord,
  windowFunction,
  windowIntensity,
} from "../src/index.js";
import { vol, voxel, world } from "./helpers.js";

/**
 * The target-task preparation's resize as it was before it moved here (`datasets/src/patch.ts`
 * `resizeGrid` at ff09357, verbatim but for the name): the oracle the half-pixel mapping must
 * reproduce bit for bit.
 */
function oldResizeGrid(
  src: { data: ArrayLike<number>; shape: Vec3 },
  outShape: Vec3,
  mode: "linear" | "nearest",
): Float32Array {
  const [nx, ny, nz] = src.shape;
  const [ox, oy, oz] = outShape;
  const out = new Float32Array(ox * oy * oz);
  const axis = (n: number, o: number) => {
    const lo = new Int32Array(o);
    const hi = new Int32Array(o);
    const w = new Float32Array(o);
    for (let i = 0; i < o; i++) {
      let c = ((i + 0.5) * n) / o - 0.5;
      c = Math.min(Math.max(c, 0), n - 1);
      if (mode === "nearest") {
        const r = Math.min(n - 1, Math.floor(((i + 0.5) * n) / o));
        lo[i] = r;
        hi[i] = r;
        w[i] = 0;
      } else {
        lo[i] = Math.floor(c);
        hi[i] = Math.min(n - 1, lo[i] + 1);
        w[i] = c - lo[i];
      }
    }
    return { lo, hi, w };
  };
  const ax = axis(nx, ox);
  const ay = axis(ny, oy);
  const az = axis(nz, oz);
  const d = src.data;
  const at = (x: number, y: number, z: number) => d[(x * ny + y) * nz + z];
  let k = 0;
  for (let x = 0; x < ox; x++) {
    for (let y = 0; y < oy; y++) {
      for (let z = 0; z < oz; z++) {
        const [x0, x1, wx] = [ax.lo[x], ax.hi[x], ax.w[x]];
        const [y0, y1, wy] = [ay.lo[y], ay.hi[y], ay.w[y]];
        const [z0, z1, wz] = [az.lo[z], az.hi[z], az.w[z]];
        if (mode === "nearest") {
          out[k++] = at(x0, y0, z0);
          continue;
        }
        const c00 = at(x0, y0, z0) * (1 - wz) + at(x0, y0, z1) * wz;
        const c01 = at(x0, y1, z0) * (1 - wz) + at(x0, y1, z1) * wz;
        const c10 = at(x1, y0, z0) * (1 - wz) + at(x1, y0, z1) * wz;
        const c11 = at(x1, y1, z0) * (1 - wz) + at(x1, y1, z1) * wz;
        out[k++] = (c00 * (1 - wy) + c01 * wy) * (1 - wx) + (c10 * (1 - wy) + c11 * wy) * wx;
      }
    }
  }
  return out;
}

describe("windowIntensity", () => {
  it("clips HU to [-1000, 1000] and scales to [0, 1] (CT window), volumes and arrays alike", () => {
    const hu = Int16Array.from([-3024, -1000, -500, 0, 500, 1000, 3071, 40]);
    const out = windowIntensity(vol(hu, [2, 2, 2]), [CT_WINDOW.min, CT_WINDOW.max]);
    expect(out.data).toBeInstanceOf(Float32Array);
    expect(out.shape).toEqual([2, 2, 2]);
    expect(Array.from(out.data)).toEqual([0, 0, 0.25, 0.5, 0.75, 1, 1, Math.fround(0.52)]);
    expect(Array.from(windowIntensity(hu, [-1000, 1000]))).toEqual(Array.from(out.data));
  });
  it("MRI window [0, 4000] and a window mapped to another range", () => {
    const v = Float32Array.from([-5, 0, 1000, 4000, 9000, 2000, 3000, 100]);
    expect(Array.from(windowIntensity(v, [MRI_WINDOW.min, MRI_WINDOW.max]))).toEqual(
      [0, 0, 0.25, 1, 1, 0.5, 0.75, 0.025].map(Math.fround),
    );
    // BMS-like sample window [-5, 5] onto [-1, 1]
    expect(Array.from(windowIntensity([-9, -5, 0, 2.5, 5, 7], [-5, 5], { range: [-1, 1] }))).toEqual([
      -1, -1, 0, 0.5, 1, 1,
    ]);
  });
  it("is the reference's division (x − lo) / (hi − lo) for [0, 1], bit for bit", () => {
    const f = windowFunction([-1000, 1000]);
    for (const v of [-999.7, -150, 0.1, 333.3, 999.99]) expect(f(v)).toBe((v - -1000) / 2000);
  });
  it("non-finite values: throw by default (one line naming the source), clip or zero on request", () => {
    const data = Float32Array.from([
      0,
      Number.NaN,
      1,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      0,
      0,
      0,
    ]);
    const v = vol(data, [2, 2, 2], { meta: { file: "scan.nii.gz" } });
    expect(countNonFinite(v)).toBe(3);
    expect(() => windowIntensity(v, [-1000, 1000])).toThrow(VolumeValueError);
    expect(() => windowIntensity(v, [-1000, 1000])).toThrow(/^scan\.nii\.gz: has 3 non-finite values/);
    expect(() => windowIntensity(data, [-1000, 1000])).toThrow(/^data: has 3 non-finite/);
    const clip = windowIntensity(v, [-1000, 1000], { nonFinite: "clip", range: [2, 4] });
    expect(Array.from(clip.data.slice(0, 5))).toEqual([3, 2, 3.0010000467300415, 4, 2].map(Math.fround));
    expect(clip.meta.nonFiniteReplaced).toBe(3);
    const z = windowIntensity(data, [-1000, 1000], { nonFinite: "zero" });
    expect(Array.from(z.slice(0, 5))).toEqual([0.5, 0, Math.fround(0.5005), 0, 0]);
    // the scalar kernel clips ±Inf and passes NaN on, documented
    const f = windowFunction([0, 10]);
    expect([f(Number.POSITIVE_INFINITY), f(Number.NEGATIVE_INFINITY), f(Number.NaN)]).toEqual([
      1,
      0,
      Number.NaN,
    ]);
  });
  it("refuses label maps and empty windows", () => {
    const v = vol(new Uint8Array(8), [2, 2, 2], { kind: "label", meta: { file: "mask.nii" } });
    expect(() => windowIntensity(v, [0, 1])).toThrow(/^mask\.nii: is a label map/);
    expect(() => windowIntensity([1, 2], [5, 5])).toThrow(/window \[5, 5\] must be finite with hi > lo/);
  });
});

describe("resample", () => {
  const ramp = (shape: Vec3, f: (x: number, y: number, z: number) => number) => {
    const data = new Float32Array(shape[0] * shape[1] * shape[2]);
    for (let x = 0; x < shape[0]; x++)
      for (let y = 0; y < shape[1]; y++)
        for (let z = 0; z < shape[2]; z++) data[(x * shape[1] + y) * shape[2] + z] = f(x, y, z);
    return data;
  };
  it("to a spacing: trilinear is exact on a linear ramp and keeps the world origin", () => {
    const v = vol(
      ramp([6, 5, 4], (x, y, z) => 2 * x + 3 * y - z),
      [6, 5, 4],
      { spacing: [2, 2, 3], origin: [5, -7, 11] },
    );
    const r = resample(v, { spacing: [1, 1, 1.5] });
    expect(r.shape).toEqual([12, 10, 8]);
    expect(r.spacing).toEqual([1, 1, 1.5]);
    expect(world(r, 0, 0, 0)).toEqual(world(v, 0, 0, 0));
    for (const [x, y, z] of [
      [3, 4, 5],
      [7, 1, 2],
      [10, 8, 6],
    ])
      expect(voxel(r, x, y, z)).toBeCloseTo(2 * (x / 2) + 3 * (y / 2) - z / 2, 5);
  });
  it("labels: nearest neighbour keeps the type and the label set", () => {
    const data = Uint8Array.from({ length: 4 * 4 * 4 }, (_, i) => [0, 1, 5][i % 3]);
    const v = vol(data, [4, 4, 4], { kind: "label" });
    const r = resample(v, { spacing: [0.5, 0.5, 2] });
    expect(r.data).toBeInstanceOf(Uint8Array);
    expect(r.shape).toEqual([8, 8, 2]);
    expect(new Set(r.data)).toEqual(new Set([0, 1, 5]));
    expect(voxel(r, 2, 4, 1)).toBe(voxel(v, 1, 2, 2));
    const s = resample(v, { scale: [0.5, 0.5, 1] });
    expect(s.data).toBeInstanceOf(Uint8Array);
    // half-pixel nearest: output i takes input ⌊(i + 0.5)·2⌋ = 2i + 1
    expect(voxel(s, 1, 0, 3)).toBe(voxel(v, 3, 1, 3));
  });
  it("by a scale factor: the skimage half-pixel mapping, known values and geometry", () => {
    // 4 → 2 along x: output i samples input 2i + 0.5, the mean of voxels 2i and 2i + 1
    const v = vol(Float32Array.from([10, 20, 40, 80]), [4, 1, 1], {
      spacing: [0.7, 1, 1],
      origin: [3, 0, 0],
    });
    const r = resample(v, { scale: [0.5, 1, 1] });
    expect(r.shape).toEqual([2, 1, 1]);
    expect(Array.from(r.data)).toEqual([15, 60]);
    expect(r.spacing[0]).toBeCloseTo(1.4, 12);
    // new voxel 0 lies between old voxels 0 and 1 in the world
    expect(world(r, 0, 0, 0)[0]).toBeCloseTo(world(v, 0.5, 0, 0)[0], 12);
    // the field of view's outer edges are kept
    expect(world(r, -0.5, 0, 0)[0]).toBeCloseTo(world(v, -0.5, 0, 0)[0], 12);
    expect(world(r, 1.5, 0, 0)[0]).toBeCloseTo(world(v, 3.5, 0, 0)[0], 12);
    // 2 → 4 upsampling: positions -0.25, 0.25, 0.75, 1.25 clamp to [0, 1]
    expect(Array.from(resampleArray([0, 8], [2, 1, 1], [4, 1, 1]))).toEqual([0, 2, 6, 8]);
  });
  it("half-pixel reproduces the target-task preparation's resize bit for bit (LCS 512→256-like, odd shapes)", () => {
    let s = 12345;
    const rand = () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648;
    };
    for (const [inShape, outShape] of [
      [
        [32, 24, 7],
        [16, 12, 7],
      ],
      [
        [9, 13, 5],
        [21, 4, 11],
      ],
      [
        [100, 100, 50],
        [64, 64, 32],
      ],
    ] as [Vec3, Vec3][]) {
      const data = Float32Array.from(
        { length: inShape[0] * inShape[1] * inShape[2] },
        () => rand() * 2000 - 1000,
      );
      for (const mode of ["linear", "nearest"] as const) {
        const want = oldResizeGrid({ data, shape: inShape }, outShape, mode);
        const got = resampleArray(data, inShape, outShape, { mode, mapping: "half-pixel" });
        expect(got.length).toBe(want.length);
        let diff = 0;
        for (let i = 0; i < got.length; i++) if (!Object.is(got[i], want[i])) diff++;
        expect(diff, `${mode} ${inShape} → ${outShape}`).toBe(0);
      }
    }
  });
  it("origin mapping with a step brings a resampled grid back onto the input voxels", () => {
    const shape: Vec3 = [5, 4, 3];
    const v = vol(
      ramp(shape, (x, y, z) => x * x + y - 2 * z),
      shape,
      { spacing: [1, 1.5, 2] },
    );
    const up = resample(v, { spacing: [0.5, 0.75, 1] });
    const back = resampleArray(up.data as Float32Array, up.shape, shape, {
      mapping: "origin",
      step: [2, 2, 2],
    });
    expect(Array.from(back)).toEqual(Array.from(v.data));
  });
  it("channels are resampled independently", () => {
    const two = Float32Array.from([0, 100, 10, 200]); // (2, 1, 1) × 2 channels
    expect(Array.from(resampleArray(two, [2, 1, 1], [4, 1, 1], { channels: 2 }))).toEqual([
      0, 100, 2.5, 125, 7.5, 175, 10, 200,
    ]);
  });
  it("rejects bad targets with one line", () => {
    const v = vol(new Float32Array(8), [2, 2, 2]);
    expect(() => resample(v, { spacing: [1, 0, 1] })).toThrow(
      /resample: spacing \(1, 0, 1\) must be three positive/,
    );
    expect(() => resample(v, { scale: [1, 1] })).toThrow(VolumeValueError);
    expect(() => resampleArray([1, 2, 3], [2, 2, 2], [1, 1, 1])).toThrow(/data has 3 values/);
  });
});

describe("preprocessing record", () => {
  it("recordFor fills the reference's values and never guesses the modality", () => {
    expect(recordFor({ modality: "CT", source: "test" })).toEqual({
      modality: "CT",
      window: [-1000, 1000],
      range: [0, 1],
      spacing: null,
      resize: null,
      crop: null,
      patchSize: [64, 64, 32],
      orientation: null,
      source: "test",
    });
    const mri = recordFor({ modality: "MRI", window: [-5, 5], resize: [0.5, 0.5, 1], source: "bms" });
    expect(mri.window).toEqual([-5, 5]);
    expect(mri.modality).toBe("MRI");
    expect(recordFor({ modality: "MRI", source: "x" }).window).toEqual([0, 4000]);
  });
  it("validateRecord names the file and the field in one line", () => {
    const ok = recordFor({ modality: "CT", source: "t" });
    expect(validateRecord(JSON.parse(JSON.stringify(ok)), "m.json")).toEqual(ok);
    const bad = (patch: Record<string, unknown>) => () => validateRecord({ ...ok, ...patch }, "model.json");
    expect(bad({ window: [5, 1] })).toThrow(/^model\.json: preprocessing record: window must be \[lo, hi\]/);
    expect(bad({ modality: "PET" })).toThrow(/modality must be "CT" or "MRI"/);
    expect(bad({ spacing: [1, 1, 1], resize: [0.5, 0.5, 1] })).toThrow(/exclusive/);
    expect(bad({ patchSize: [64, 64] })).toThrow(/patchSize must be three positive integers/);
    expect(bad({ orientation: "RAR" })).toThrow(/orientation must be null or a code/);
    expect(bad({ spacing: undefined })).toThrow(/spacing must be null/);
    expect(() => validateRecord(null, "x")).toThrow(/^x: preprocessing record: must be an object$/);
    expect(validateRecord({ ...ok, orientation: "lps" }, "m").orientation).toBe("lps");
    // a crop resized to the patch (BMS 100×100×50 → 64×64×32) must say its scale in resize
    const bms = { ...ok, crop: [100, 100, 50], patchSize: [64, 64, 32] };
    expect(validateRecord({ ...bms, resize: [0.64, 0.64, 0.64] }, "m").resize).toEqual([0.64, 0.64, 0.64]);
    expect(bad({ ...bms, resize: null })).toThrow(
      /^model\.json: preprocessing record: crop 100x100x50 resized to patchSize 64x64x32 needs resize 0\.64,0\.64,0\.64, got null$/,
    );
    expect(validateRecord({ ...ok, crop: [64, 64, 32] }, "m").crop).toEqual([64, 64, 32]);
  });
});
