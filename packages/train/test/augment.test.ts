import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@models-genesis/kernels";
import { type Image3D, Rng, registerTransform, unregisterTransform } from "@models-genesis/transforms";
import { describe, expect, it } from "vitest";
import { augmentSamples, defaultAugment, runFinetuning } from "../src/index.js";

function volume(seed: number, n: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.float32());
}

const threshold = (a: Float32Array) => a.map((v) => (v > 0.5 ? 1 : 0));

describe("fine-tuning augmentations from the transforms registry", () => {
  it("defaults to the registry's segmentation flips and rot90s", () => {
    expect(defaultAugment("segmentation")).toEqual([
      { transform: "randFlip", options: undefined },
      { transform: "randRot90", options: { squareSafe: true } },
    ]);
  });

  it("keeps every mask aligned with its image (mask = image > 0.5 before and after), shapes fixed", () => {
    for (const shape of [
      [8, 8, 4, 1],
      [8, 6, 4, 1],
    ]) {
      const n = shape[0] * shape[1] * shape[2];
      const aug = augmentSamples(defaultAugment("segmentation"), "segmentation", shape, shape);
      expect(aug).toBeDefined();
      const rng = new Rng(3);
      let moved = 0;
      for (let i = 0; i < 60; i++) {
        const x = volume(i, n);
        const y = threshold(x);
        const before = Float32Array.from(x);
        const out = aug!(x, y, rng);
        expect(out.x).toHaveLength(n);
        expect(out.y).toEqual(threshold(out.x));
        // a permutation of the voxels: same multiset
        expect([...out.x].sort()).toEqual([...before].sort());
        expect(x).toEqual(before); // the training arrays are not modified
        if (out.x.some((v, j) => v !== before[j])) moved++;
      }
      // P(no flip and no rotation) = 1/8 · 1/2 = 1/16 per sample
      expect(moved).toBeGreaterThan(45);
    }
  });

  it("multi-channel images and masks share one draw per sample; intensity transforms leave masks alone", () => {
    const [X, Y, Z] = [6, 6, 3];
    const n = X * Y * Z;
    const aug = augmentSamples(
      ["randFlip", { transform: "randRot90", options: { prob: 1 } }, "intensityScaleShift"],
      "segmentation",
      [X, Y, Z, 2],
      [X, Y, Z, 2],
    )!;
    const base = volume(9, n);
    const x = new Float32Array(2 * n);
    const y = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      x[2 * i] = base[i];
      x[2 * i + 1] = 1 - base[i];
      y[2 * i] = base[i] > 0.5 ? 1 : 0;
      y[2 * i + 1] = base[i] > 0.5 ? 0 : 1;
    }
    const rng = new Rng(4);
    for (let s = 0; s < 20; s++) {
      const out = aug(x, y, rng);
      for (let i = 0; i < n; i++) {
        // channel 1 of the mask is still the complement of channel 0, and masks stay 0/1
        expect(out.y[2 * i] + out.y[2 * i + 1]).toBe(1);
        // both image channels moved together: their ranks agree with the mask
        expect(out.x[2 * i] > out.x[2 * i + 1]).toBe(out.y[2 * i] === 1);
      }
    }
  });

  it("classification labels pass through; `false` and [] mean no augmentation; unknown names are refused", () => {
    const aug = augmentSamples(defaultAugment("classification"), "classification", [4, 4, 4, 1], [1])!;
    const out = aug(volume(1, 64), Float32Array.of(1), new Rng(1));
    expect(Array.from(out.y)).toEqual([1]);
    expect(augmentSamples(false, "segmentation", [4, 4, 4, 1], [4, 4, 4, 1])).toBeUndefined();
    expect(augmentSamples([], "segmentation", [4, 4, 4, 1], [4, 4, 4, 1])).toBeUndefined();
    expect(() => augmentSamples(["randTwist"], "segmentation", [4, 4, 4, 1], [4, 4, 4, 1])).toThrow(
      /augment: .*unknown transform "randTwist"/,
    );
    expect(() => augmentSamples(["randFlip"], "segmentation", [4, 4, 4, 1], [4, 4, 2, 1])).toThrow(
      /do not match the images/,
    );
  });
});

describe("runFinetuning applies the augmentations to training samples only", () => {
  it("calls each augmentation once per training sample and channel, never on validation or test", async () => {
    await initBackend({ backend: "wasm", log: () => {} });
    const calls: string[] = [];
    registerTransform("testSpy", () => ({
      name: "testSpy",
      kind: "spatial",
      sample: (rng: Rng) => rng.randint(0, 9),
      apply: (img: Image3D) => {
        calls.push(img.kind ?? "?");
        return { ...img, data: Float32Array.from(img.data) };
      },
    }));
    const dir = mkdtempSync(join(tmpdir(), "ft-augment-"));
    const lines: string[] = [];
    try {
      const split = (n: number, seed: number) => {
        const x = volume(seed, n * 512);
        return { x, xShape: [n, 8, 8, 8, 1], y: threshold(x), yShape: [n, 8, 8, 8, 1] };
      };
      await runFinetuning({
        task: "segmentation",
        data: { train: split(6, 1), val: split(3, 2), test: split(2, 3) },
        init: { kind: "scratch", width: 2 },
        augment: ["testSpy"],
        batchSize: 3,
        epochs: 1,
        modelDir: join(dir, "model"),
        plainProgress: true,
        log: (l) => lines.push(l),
      });
    } finally {
      unregisterTransform("testSpy");
      rmSync(dir, { recursive: true, force: true });
    }
    // 6 training samples × (image + mask), one epoch; validation (3) and test (2) untouched
    expect(calls.filter((k) => k === "intensity")).toHaveLength(6);
    expect(calls.filter((k) => k === "label")).toHaveLength(6);
    expect(lines).toContain("fine-tuning: augmenting training samples with testSpy");
  });
});
