import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  CheckpointError,
  loadModelWeights,
  optimizerStateOf,
  readCheckpoint,
  SGD,
  writeCheckpoint,
} from "../src/index.js";
import { tinyConvNet, useCpu, weightsOf } from "./helpers.js";

beforeAll(useCpu);

describe("checkpoint file", () => {
  it("round-trips weights, BN state, optimizer slots and JSON state; leaves no temp files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ckpt-"));
    const m = tinyConvNet(3);
    m.nonTrainableWeights.get("bn.running_mean")!.assign(tf.tensor([0.1, 0.2, 0.3]));
    const opt = new SGD({ lr: 0.5, momentum: 0.9 });
    const g = new Map([...m.trainableWeights].map(([k, v]) => [k, tf.onesLike(v)] as [string, tf.Tensor]));
    opt.applyGradients(g, m.trainableWeights);
    const path = join(dir, "last.ckpt");
    await writeCheckpoint(path, {
      model: m,
      optimizer: await opt.getState(),
      trainer: { epoch: 7, note: "x" },
      callbacks: { A: { wait: 2 } },
    });
    expect(readdirSync(dir)).toEqual(["last.ckpt"]);
    const c = await readCheckpoint(path);
    expect(c.header.trainer).toEqual({ epoch: 7, note: "x" });
    expect(c.header.callbacks).toEqual({ A: { wait: 2 } });
    expect(c.header.optimizer.lr).toBe(0.5);
    const m2 = tinyConvNet(99);
    loadModelWeights(m2, c, path);
    expect(weightsOf(m2)).toEqual(weightsOf(m));
    const os = optimizerStateOf(c);
    expect(os.slots.size).toBe(4);
    expect(Array.from(os.slots.get("out.bias/momentum")!.data)).toEqual([1]);
  });
  it("names the file on bad magic, truncation and shape mismatch", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ckpt-"));
    const bad = join(dir, "bad.ckpt");
    writeFileSync(bad, "hello world, not a checkpoint");
    await expect(readCheckpoint(bad)).rejects.toThrow(/bad\.ckpt: not a models-genesis checkpoint/);
    const m = tinyConvNet(1);
    const p = join(dir, "ok.ckpt");
    await writeCheckpoint(p, {
      model: m,
      optimizer: await new SGD({ lr: 1 }).getState(),
      trainer: {},
      callbacks: {},
    });
    const buf = readFileSync(p);
    writeFileSync(join(dir, "cut.ckpt"), buf.subarray(0, buf.length - 8));
    await expect(readCheckpoint(join(dir, "cut.ckpt"))).rejects.toThrow(CheckpointError);
    const c = await readCheckpoint(p);
    const other = tinyConvNet(1, { hidden: 4 });
    expect(() => loadModelWeights(other, c, p)).toThrow(/ok\.ckpt: weight "conv0.weight" has shape/);
  });
  it("refuses by name a flipped payload byte (SHA-256), trailing bytes and a header that is not a checkpoint's", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ckpt-"));
    const p = join(dir, "ok.ckpt");
    await writeCheckpoint(p, {
      model: tinyConvNet(1),
      optimizer: await new SGD({ lr: 1 }).getState(),
      trainer: {},
      callbacks: {},
    });
    const buf = readFileSync(p);
    const flipped = Buffer.from(buf);
    flipped[flipped.length - 5] ^= 0x40; // inside the last weight's float32
    writeFileSync(join(dir, "flipped.ckpt"), flipped);
    await expect(readCheckpoint(join(dir, "flipped.ckpt"))).rejects.toThrow(
      /flipped\.ckpt: corrupt: the payload does not match its SHA-256 checksum/,
    );
    writeFileSync(join(dir, "long.ckpt"), Buffer.concat([buf, Buffer.alloc(16)]));
    await expect(readCheckpoint(join(dir, "long.ckpt"))).rejects.toThrow(
      /long\.ckpt: corrupt: 16 bytes after the payload/,
    );
    const json = Buffer.from(JSON.stringify({ hello: 1 }));
    const head = Buffer.alloc(12);
    head.write("MGCKPT01", 0, "latin1");
    head.writeUInt32LE(json.length, 8);
    writeFileSync(join(dir, "odd.ckpt"), Buffer.concat([head, json]));
    await expect(readCheckpoint(join(dir, "odd.ckpt"))).rejects.toThrow(
      /odd\.ckpt: header is not a models-genesis checkpoint header/,
    );
  });
});
