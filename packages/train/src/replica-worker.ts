/**
 * Worker-thread program of {@link ReplicaPool} (data-parallel training): one model replica on its
 * own tfjs backend instance. Built to `dist/replica-worker.js`; worker threads cannot load the
 * TypeScript sources.
 *
 * Messages in: `{ kind: "init", config, loss, backend }`, then per step
 * `{ kind: "step", names, weights, nonTrainable, x, xShape, y, yShape }`.
 * Messages out: `{ ok: true }` after init; `{ loss, grads, nonTrainable }` after a step, the typed
 * arrays transferred; `{ error }` when anything throws.
 */
import { parentPort } from "node:worker_threads";
import { initBackend } from "@models-genesis/kernels";
import {
  createModelFromConfig,
  type GenesisModule,
  type GenesisUNetConfigInput,
} from "@models-genesis/models";
import * as tf from "@tensorflow/tfjs-core";
import { variableGradsFreeing } from "./grads.js";
import { type LossFn, lossByName } from "./losses.js";

export interface ReplicaInit {
  kind: "init";
  config: Record<string, unknown>;
  loss: string;
  backend: string;
}

export interface ReplicaStep {
  kind: "step";
  /** Trainable weights to differentiate, in this order (the others are still loaded). */
  names: string[];
  /** Every trainable weight by name (the main thread's current values). */
  weights: Record<string, Float32Array>;
  /** Every non-trainable weight by name (BatchNorm running statistics). */
  nonTrainable: Record<string, Float32Array>;
  x: Float32Array;
  xShape: number[];
  y: Float32Array;
  yShape: number[];
}

export interface ReplicaStepResult {
  loss: number;
  /** Gradient per name of `names`; `null` where the loss does not reach the weight. */
  grads: (Float32Array | null)[];
  /** Non-trainable weights after the forward pass (running statistics updated by this shard). */
  nonTrainable: Record<string, Float32Array>;
}

let model: GenesisModule | null = null;
let loss: LossFn | null = null;

function assign(vars: ReadonlyMap<string, tf.Variable>, values: Record<string, Float32Array>): void {
  for (const [name, v] of vars) {
    const a = values[name];
    if (!a) throw new Error(`replica: no value for weight ${name}`);
    if (a.length !== v.size)
      throw new Error(`replica: weight ${name} has ${a.length} values, expected ${v.size}`);
    const t = tf.tensor(a, v.shape, "float32");
    v.assign(t);
    t.dispose();
  }
}

function step(m: ReplicaStep): ReplicaStepResult {
  if (!model || !loss) throw new Error("replica: step before init");
  const mdl = model;
  const lossFn = loss;
  assign(mdl.trainableWeights, m.weights);
  assign(mdl.nonTrainableWeights, m.nonTrainable);
  const vars = m.names.map((n) => {
    const v = mdl.trainableWeights.get(n);
    if (!v) throw new Error(`replica: the model has no trainable weight ${n}`);
    return v;
  });
  const { value, grads } = tf.tidy(() => {
    const x = tf.tensor(m.x, m.xShape, "float32");
    const y = tf.tensor(m.y, m.yShape, "float32");
    return variableGradsFreeing(() => lossFn(y, mdl.forward(x, { training: true })), vars);
  });
  const out: (Float32Array | null)[] = vars.map((v) => {
    const g = grads[v.name];
    return g ? (g.dataSync() as Float32Array).slice() : null;
  });
  const lossValue = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  const nonTrainable: Record<string, Float32Array> = {};
  for (const [name, v] of mdl.nonTrainableWeights)
    nonTrainable[name] = (v.dataSync() as Float32Array).slice();
  return { loss: lossValue, grads: out, nonTrainable };
}

function transferList(r: ReplicaStepResult): ArrayBuffer[] {
  const list: ArrayBuffer[] = [];
  for (const g of r.grads) if (g) list.push(g.buffer as ArrayBuffer);
  for (const a of Object.values(r.nonTrainable)) list.push(a.buffer as ArrayBuffer);
  return list;
}

parentPort?.on("message", async (m: ReplicaInit | ReplicaStep) => {
  try {
    if (m.kind === "init") {
      await initBackend({ backend: m.backend, log: () => {} });
      model = createModelFromConfig(m.config as unknown as GenesisUNetConfigInput);
      loss = lossByName(m.loss);
      parentPort!.postMessage({ ok: true });
    } else {
      const r = step(m);
      parentPort!.postMessage(r, transferList(r));
    }
  } catch (e) {
    parentPort!.postMessage({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
