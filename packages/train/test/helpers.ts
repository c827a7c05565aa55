import { conv3d } from "@models-genesis/kernels";
import type { GenesisModule } from "@models-genesis/models";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { arrayBatchSource, mseLoss, Rng, SGD, StepLR, Trainer, type TrainerOptions } from "../src/index.js";

export async function useCpu(): Promise<void> {
  await tf.setBackend("cpu");
  await tf.ready();
}

function init(rng: Rng, shape: number[], scale: number): tf.Variable {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: n }, () => (rng.random() * 2 - 1) * scale);
  return tf.variable(tf.tensor(data, shape), true);
}

/**
 * A tiny 3-D network on the GenesisModule contract, built on the project's `conv3d` op
 * (`@models-genesis/kernels`; stock `tf.conv3d`'s gradient is wrong on tfjs-backend-wasm 4.22): conv 3×3×3 (cin→hidden) + ReLU, a BN-like running
 * mean of the hidden activations (non-trainable, updated in training mode), conv 1×1×1 (hidden→cout)
 * + sigmoid. Input/output NDHWC.
 */
export function tinyConvNet(
  seed = 1,
  opts: { cin?: number; cout?: number; hidden?: number } = {},
): GenesisModule {
  const cin = opts.cin ?? 1;
  const cout = opts.cout ?? 1;
  const hidden = opts.hidden ?? 3;
  const rng = new Rng(seed);
  const trainable = new Map<string, tf.Variable>([
    ["conv0.weight", init(rng, [3, 3, 3, cin, hidden], 0.3)],
    ["conv0.bias", init(rng, [hidden], 0.1)],
    ["out.weight", init(rng, [1, 1, 1, hidden, cout], 0.5)],
    ["out.bias", init(rng, [cout], 0.1)],
  ]);
  const nonTrainable = new Map<string, tf.Variable>([
    ["bn.running_mean", tf.variable(tf.zeros([hidden]), false)],
  ]);
  return {
    config: { kind: "tinyConvNet", seed, cin, cout, hidden },
    trainableWeights: trainable,
    nonTrainableWeights: nonTrainable,
    forward(x, { training }) {
      return tf.tidy(() => {
        const h = tf.relu(
          conv3d(
            x as tf.Tensor5D,
            trainable.get("conv0.weight") as tf.Tensor5D,
            trainable.get("conv0.bias") as tf.Tensor1D,
          ),
        );
        if (training) {
          const rm = nonTrainable.get("bn.running_mean")!;
          rm.assign(tf.add(tf.mul(rm, 0.9), tf.mul(tf.mean(h, [0, 1, 2, 3]), 0.1)));
        }
        const o = conv3d(
          h as tf.Tensor5D,
          trainable.get("out.weight") as tf.Tensor5D,
          trainable.get("out.bias") as tf.Tensor1D,
        );
        return tf.sigmoid(o);
      });
    },
    dispose() {
      for (const v of [...trainable.values(), ...nonTrainable.values()]) v.dispose();
    },
  };
}

/** Global-average-pool + dense + sigmoid classifier: (N, D, H, W, C) → (N, 1). */
export function tinyClassifier(seed = 1, cin = 1): GenesisModule {
  const rng = new Rng(seed);
  const trainable = new Map<string, tf.Variable>([
    ["fc.weight", init(rng, [cin * 2, 1], 0.5)],
    ["fc.bias", init(rng, [1], 0.1)],
  ]);
  return {
    config: { kind: "tinyClassifier", seed, cin },
    trainableWeights: trainable,
    nonTrainableWeights: new Map(),
    forward(x) {
      return tf.tidy(() => {
        const mean = tf.mean(x, [1, 2, 3]);
        const max = tf.max(x, [1, 2, 3]);
        const f = tf.concat([mean, max], 1);
        return tf.sigmoid(
          tf.add(tf.matMul(f, trainable.get("fc.weight") as tf.Tensor2D), trainable.get("fc.bias")!),
        );
      });
    },
    dispose() {
      for (const v of trainable.values()) v.dispose();
    },
  };
}

/** Snapshot of every weight as plain arrays, for exact comparisons. */
export function weightsOf(m: GenesisModule): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [k, v] of [...m.trainableWeights, ...m.nonTrainableWeights]) out[k] = Array.from(v.dataSync());
  return out;
}

/**
 * Synthetic restoration data: smooth random cubes (targets) and corrupted inputs (noise + a zeroed
 * block), sample shape (D, H, W, 1).
 */
export function restorationData(
  n: number,
  shape: [number, number, number],
  seed: number,
): { x: Float32Array; y: Float32Array } {
  const rng = new Rng(seed);
  const [d, h, w] = shape;
  const size = d * h * w;
  const y = new Float32Array(n * size);
  const x = new Float32Array(n * size);
  for (let s = 0; s < n; s++) {
    const a = rng.random();
    const b = rng.random();
    for (let i = 0; i < d; i++)
      for (let j = 0; j < h; j++)
        for (let k = 0; k < w; k++) {
          const v = 0.5 + 0.4 * Math.sin(a * 3 + i * 0.7 + j * 0.4 * b + k * 0.3);
          const idx = s * size + (i * h + j) * w + k;
          y[idx] = v;
          x[idx] = Math.min(1, Math.max(0, v + (rng.random() - 0.5) * 0.3));
        }
  }
  return { x, y };
}

/** Segmentation data: input cubes with a bright blob; mask = blob. */
export function segmentationData(
  n: number,
  shape: [number, number, number],
  seed: number,
): { x: Float32Array; y: Float32Array } {
  const rng = new Rng(seed);
  const [d, h, w] = shape;
  const size = d * h * w;
  const x = new Float32Array(n * size);
  const y = new Float32Array(n * size);
  for (let s = 0; s < n; s++) {
    const c = [rng.randint(1, d - 2), rng.randint(1, h - 2), rng.randint(1, w - 2)];
    const r = 1 + rng.random() * 1.5;
    for (let i = 0; i < d; i++)
      for (let j = 0; j < h; j++)
        for (let k = 0; k < w; k++) {
          const idx = s * size + (i * h + j) * w + k;
          const inside = (i - c[0]) ** 2 + (j - c[1]) ** 2 + (k - c[2]) ** 2 <= r * r;
          y[idx] = inside ? 1 : 0;
          x[idx] = (inside ? 0.8 : 0.2) + (rng.random() - 0.5) * 0.2;
        }
  }
  return { x, y };
}

/**
 * The fixed run of the process tests (kill -9, Ctrl-C): tiny conv net, SGD momentum + StepLR, MSE,
 * 12 training cubes in batches of 3 (4 steps/epoch), 4 epochs, seed 7.
 */
export function processSetup(extra: Partial<TrainerOptions> = {}): Trainer {
  const shape: [number, number, number] = [8, 8, 4];
  const s = [...shape, 1];
  const tr = restorationData(12, shape, 1);
  const va = restorationData(6, shape, 2);
  return new Trainer({
    model: tinyConvNet(1),
    optimizer: new SGD({ lr: 0.5, momentum: 0.9 }),
    loss: mseLoss,
    train: arrayBatchSource({ ...tr, sampleShapeX: s, sampleShapeY: s, batchSize: 3 }),
    validation: arrayBatchSource({ ...va, sampleShapeX: s, sampleShapeY: s, batchSize: 3, shuffle: false }),
    epochs: 4,
    seed: 7,
    ...extra,
    callbacks: [new StepLR({ stepSize: 2, gamma: 0.5 }), ...(extra.callbacks ?? [])],
  });
}
