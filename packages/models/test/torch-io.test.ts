/** @vitest-environment node */
import { readFileSync } from "node:fs";
import path from "node:path";
import { unzipSync, zipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import {
  CheckpointFormatError,
  createModel,
  extractStateDict,
  importTorchCheckpoint,
  permuteArray,
  readTorchCheckpoint,
  torchPermutation,
  WeightMismatchError,
} from "../src/index.js";
import { hasParity, maxAbsDiff, PARITY, useBackend } from "./helpers.js";
import { writeTorchStateDict } from "./torch-writer.js";

describe("permuteArray", () => {
  it("transposes a 2×3 matrix", () => {
    const r = permuteArray(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3], [1, 0]);
    expect(r.shape).toEqual([3, 2]);
    expect(Array.from(r.data)).toEqual([1, 4, 2, 5, 3, 6]);
  });
  it("conv (out, in, k0, k1, k2) → (k0, k1, k2, in, out): element [o,i,a,b,c] lands at [a,b,c,i,o]", () => {
    const shape = [3, 2, 2, 3, 4];
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, (_, i) => i);
    const perm = torchPermutation("conv", 5);
    expect(perm).toEqual([2, 3, 4, 1, 0]);
    const r = permuteArray(data, shape, perm);
    expect(r.shape).toEqual([2, 3, 4, 2, 3]);
    const src = (o: number, i: number, a: number, b: number, c: number) =>
      (((o * 2 + i) * 2 + a) * 3 + b) * 4 + c;
    const dst = (a: number, b: number, c: number, i: number, o: number) =>
      (((a * 3 + b) * 4 + c) * 2 + i) * 3 + o;
    for (const [o, i, a, b, c] of [
      [0, 0, 0, 0, 0],
      [2, 1, 1, 2, 3],
      [1, 0, 1, 1, 2],
    ]) {
      expect(r.data[dst(a, b, c, i, o)]).toBe(src(o, i, a, b, c));
    }
  });
  it("ConvTranspose (in, out, k…) → (k…, out, in) and Linear (out, in) → (in, out)", () => {
    expect(torchPermutation("convT", 5)).toEqual([2, 3, 4, 1, 0]);
    expect(torchPermutation("linear", 2)).toEqual([1, 0]);
  });
});

describe("bare state_dict without module. (synthetic checkpoints)", () => {
  it.each(["zip", "legacy"] as const)(
    "%s: ours → PyTorch layout → import gives the same weights",
    async (ser) => {
      await useBackend("cpu");
      const m = createModel("genesis-unet3d", { width: 1, seed: 9 });
      const ours = await m.getWeights();
      const tensors = m.specs.map((s) => {
        const perm = torchPermutation(s.layout, s.shape.length);
        const inv = new Array<number>(perm.length);
        perm.forEach((p, i) => {
          inv[p] = i;
        });
        const t = permuteArray(ours.get(s.name)!.data, s.shape, inv);
        return { name: s.name, shape: t.shape, data: t.data };
      });
      const bytes = writeTorchStateDict(tensors, ser);
      const { model, provenance } = await importTorchCheckpoint(bytes, { name: `bare-${ser}.pt` });
      expect(provenance).toMatchObject({
        format: `torch-${ser}`,
        wrapperKey: null,
        strippedPrefixes: [],
        epoch: null,
      });
      expect(model.architecture.width).toBe(1);
      const back = await model.getWeights();
      for (const [k, v] of ours) expect(maxAbsDiff(v.data, back.get(k)!.data), k).toBe(0);
      m.dispose();
      model.dispose();
    },
  );
});

describe.skipIf(!hasParity)("PyTorch checkpoints", () => {
  const zipPath = path.join(PARITY, "unet3d_w4_zip.pt");
  const legacyPath = path.join(PARITY, "unet3d_w4_legacy.pt");
  beforeAll(() => useBackend("cpu"));

  it("reads the {epoch, state_dict, optimizer_state_dict} wrapper and module. keys in both serialisations", async () => {
    for (const [p, ser] of [
      [zipPath, "zip"],
      [legacyPath, "legacy"],
    ] as const) {
      const ckpt = await readTorchCheckpoint(p);
      expect(ckpt.serialization).toBe(ser);
      const { tensors, info } = extractStateDict(ckpt);
      expect(info).toEqual({ wrapperKey: "state_dict", strippedPrefixes: ["module."], epoch: 3 });
      const w = tensors.get("down_tr64.ops.0.conv1.weight")!;
      expect(w.shape).toEqual([4, 1, 3, 3, 3]);
      expect(tensors.get("up_tr256.up_conv.weight")!.shape).toEqual([64, 64, 2, 2, 2]);
      expect(tensors.get("down_tr64.ops.0.bn1.num_batches_tracked")!.dtype).toBe("int64");
    }
  });

  /** Rewrite the zip checkpoint's data.pkl (same-length edits keep every pickle offset valid). */
  function patchedZip(edit: (pkl: Uint8Array) => void): Uint8Array {
    const entries = unzipSync(new Uint8Array(readFileSync(zipPath)));
    const key = Object.keys(entries).find((k) => k.endsWith("/data.pkl"))!;
    const pkl = entries[key].slice();
    edit(pkl);
    entries[key] = pkl;
    return zipSync(entries, { level: 0 });
  }
  function replaceOnce(buf: Uint8Array, from: number[], to: number[]): void {
    outer: for (let i = 0; i + from.length <= buf.length; i++) {
      for (let j = 0; j < from.length; j++) if (buf[i + j] !== from[j]) continue outer;
      buf.set(to, i);
      return;
    }
    throw new Error("pattern not found");
  }
  const ascii = (s: string) => Array.from(Buffer.from(s, "latin1"));

  it("one error lists missing, unexpected and mis-shaped keys (with PyTorch shapes)", async () => {
    const bytes = patchedZip((pkl) => {
      // rename a key: conv1.bias → conv1.BIAS (missing + unexpected)
      replaceOnce(
        pkl,
        ascii("module.down_tr64.ops.0.conv1.bias"),
        ascii("module.down_tr64.ops.0.conv1.BIAS"),
      );
      // the final conv's size tuple (1, 8, 1, 1, 1) → (1, 7, 1, 1, 1): MARK BININT1 1 BININT1 8 …
      replaceOnce(
        pkl,
        [0x28, 0x4b, 1, 0x4b, 8, 0x4b, 1, 0x4b, 1, 0x4b, 1, 0x74],
        [0x28, 0x4b, 1, 0x4b, 7, 0x4b, 1, 0x4b, 1, 0x4b, 1, 0x74],
      );
    });
    const err = await importTorchCheckpoint(bytes, { name: "edited.pt" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeightMismatchError);
    const w = err as WeightMismatchError;
    expect(w.missing).toEqual(["down_tr64.ops.0.conv1.bias"]);
    expect(w.unexpected).toEqual(["down_tr64.ops.0.conv1.BIAS"]);
    expect(w.misShaped).toEqual([
      { name: "out_tr.final_conv.weight", expected: [1, 8, 1, 1, 1], got: [1, 7, 1, 1, 1] },
    ]);
    expect(w.message).toContain("edited.pt: weights do not match the model");
  });

  it("names the file when it is not a checkpoint, or a storage is missing", async () => {
    const junk = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    await expect(importTorchCheckpoint(junk, { name: "junk.pt" })).rejects.toThrow(
      "junk.pt: not a PyTorch checkpoint (neither a zip archive nor a legacy pickle stream)",
    );
    const entries = unzipSync(new Uint8Array(readFileSync(zipPath)));
    const k = Object.keys(entries).find((e) => e.endsWith("/data/0"))!;
    delete entries[k];
    await expect(readTorchCheckpoint(zipSync(entries, { level: 0 }), "nostorage.pt")).rejects.toThrow(
      /^nostorage\.pt: storage .*data\/0 is missing from the archive$/,
    );
    const legacy = new Uint8Array(readFileSync(legacyPath));
    await expect(readTorchCheckpoint(legacy.subarray(0, legacy.length - 100), "cut.pt")).rejects.toThrow(
      CheckpointFormatError,
    );
    await expect(importTorchCheckpoint("/nonexistent/x.pt")).rejects.toThrow(
      /^\/nonexistent\/x\.pt: cannot read/,
    );
  });

  it("classification transfer: encoder weights from the file, a new GAP → 1024 → n head", async () => {
    const seg = await importTorchCheckpoint(zipPath);
    const cls = await importTorchCheckpoint(zipPath, {
      head: { kind: "classification", nClasses: 3 },
      seed: 1,
    });
    expect(cls.model.architecture.head).toEqual({
      kind: "classification",
      nClasses: 3,
      activation: "sigmoid",
      hiddenUnits: 1024,
    });
    expect(cls.model.weights.get("dense_1.weight")!.shape).toEqual([64, 1024]);
    expect(cls.model.weights.has("up_tr256.up_conv.weight")).toBe(false);
    const a = seg.model.weights.get("down_tr512.ops.1.conv1.weight")!.dataSync();
    const b = cls.model.weights.get("down_tr512.ops.1.conv1.weight")!.dataSync();
    expect(Array.from(b)).toEqual(Array.from(a));
    seg.model.dispose();
    cls.model.dispose();
  });

  it("a segmentation head with another class count re-initialises only the final conv", async () => {
    const { model } = await importTorchCheckpoint(zipPath, { head: { kind: "segmentation", nClasses: 4 } });
    expect(model.weights.get("out_tr.final_conv.weight")!.shape).toEqual([1, 1, 1, 8, 4]);
    model.dispose();
  });
});
