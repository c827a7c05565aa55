#!/usr/bin/env node
// Benchmarks of @models-genesis/train (needs `pnpm --filter @models-genesis/train build`).
// Prints one JSON line per measurement: an epoch of a small conv net with a CPU-heavy per-sample
// transform run in-thread vs on a WorkerPool (overlapping the training step through prefetch).
import "@tensorflow/tfjs-backend-cpu";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { arrayBatchSource, mseLoss, SGD, Trainer, WorkerPool } from "../dist/index.js";
import { heavy } from "./heavy-worker.mjs";

const here = dirname(fileURLToPath(import.meta.url));
await tf.setBackend("cpu");
const D = [16, 16, 16, 1];
const n = 24;
const size = 16 * 16 * 16;
const x = Float32Array.from({ length: n * size }, (_, i) => Math.sin(i * 0.01) * 0.5 + 0.5);

function model() {
  const w = tf.variable(tf.randomNormal([3, 3, 3, 1, 4], 0, 0.1, "float32", 1));
  const w2 = tf.variable(tf.randomNormal([1, 1, 1, 4, 1], 0, 0.1, "float32", 2));
  return {
    config: {},
    trainableWeights: new Map([
      ["w", w],
      ["w2", w2],
    ]),
    nonTrainableWeights: new Map(),
    forward: (t) => tf.tidy(() => tf.sigmoid(tf.conv3d(tf.relu(tf.conv3d(t, w, 1, "same")), w2, 1, "same"))),
    dispose: () => {
      w.dispose();
      w2.dispose();
    },
  };
}

async function epochSeconds(mode, pool) {
  const train = arrayBatchSource({
    x,
    y: x,
    sampleShapeX: D,
    sampleShapeY: D,
    batchSize: 4,
    ...(mode === "none"
      ? {}
      : mode === "in-thread"
        ? { transform: (a, b, rng) => heavy(a, b, rng.seed()) }
        : { transformAsync: (a, b, seed) => pool.run([a, b, seed], [a.buffer, b.buffer]) }),
  });
  const m = model();
  const t = new Trainer({
    model: m,
    optimizer: new SGD({ lr: 0.1 }),
    loss: mseLoss,
    train,
    epochs: 2,
    seed: 1,
  });
  const r = await t.run();
  m.dispose();
  return r.history[1].seconds; // second epoch: warm
}

const pool = new WorkerPool({ module: join(here, "heavy-worker.mjs"), exportName: "heavy", size: 2 });
for (const mode of ["none", "in-thread", "workers"]) {
  const seconds = await epochSeconds(mode, pool);
  console.log(
    JSON.stringify({
      bench: "train/epoch-with-transform",
      mode,
      samples: n,
      cube: D,
      seconds: Number(seconds.toFixed(3)),
    }),
  );
}
await pool.close();
