import * as tf from "@tensorflow/tfjs-core";
import { CheckpointError, TrainError } from "./errors.js";

/** A saved optimizer slot tensor (e.g. a momentum buffer) for one weight. */
export interface SlotState {
  shape: number[];
  data: Float32Array;
}

/** Everything an optimizer needs to continue exactly: hyper-parameters, step count, slot buffers. */
export interface OptimizerState {
  kind: "sgd" | "adam";
  lr: number;
  iterations: number;
  config: Record<string, number | boolean>;
  /** slot name (`<weight name>/<slot>`) → tensor */
  slots: Map<string, SlotState>;
}

/**
 * An optimizer with explicit, checkpointable state. `lr` is mutable: schedules set it between epochs.
 * Weights and gradients are keyed by the names of `GenesisModule.trainableWeights`.
 */
export interface Optimizer {
  readonly kind: "sgd" | "adam";
  lr: number;
  /** Number of `applyGradients` calls so far. */
  readonly iterations: number;
  /**
   * Update `weights` in place from `grads` (same names, same shapes). Runs in `tf.tidy`; creates the
   * slot variables on first use.
   * @throws TrainError if a gradient names an unknown weight or shapes differ
   */
  applyGradients(grads: ReadonlyMap<string, tf.Tensor>, weights: ReadonlyMap<string, tf.Variable>): void;
  /** The state for a checkpoint (slot values read back from the backend, so asynchronous: webgpu has no synchronous read in Node). */
  getState(): Promise<OptimizerState>;
  /** @throws CheckpointError if the state is for another optimizer kind */
  setState(state: OptimizerState): void;
  /** Free the slot variables. */
  dispose(): void;
}

abstract class SlotOptimizer {
  protected slots = new Map<string, tf.Variable>();
  protected iters = 0;

  get iterations(): number {
    return this.iters;
  }

  protected slot(name: string, like: tf.Tensor): tf.Variable {
    let v = this.slots.get(name);
    if (!v) {
      v = tf.tidy(() => tf.variable(tf.zerosLike(like), false));
      this.slots.set(name, v);
    }
    return v;
  }

  protected async slotStates(): Promise<Map<string, SlotState>> {
    const out = new Map<string, SlotState>();
    for (const [k, v] of this.slots)
      out.set(k, { shape: [...v.shape], data: Float32Array.from(await v.data()) });
    return out;
  }

  protected loadSlots(slots: Map<string, SlotState>): void {
    this.dispose();
    for (const [k, s] of slots) this.slots.set(k, tf.variable(tf.tensor(s.data, s.shape, "float32"), false));
  }

  dispose(): void {
    for (const v of this.slots.values()) v.dispose();
    this.slots.clear();
  }
}

function check(name: string, g: tf.Tensor, weights: ReadonlyMap<string, tf.Variable>): tf.Variable {
  const w = weights.get(name);
  if (!w) throw new TrainError(`optimizer: gradient for unknown weight "${name}"`);
  if (!tf.util.arraysEqual(w.shape, g.shape)) {
    throw new TrainError(
      `optimizer: gradient of "${name}" has shape [${g.shape}] but the weight has [${w.shape}]`,
    );
  }
  return w;
}

/** Options of {@link SGD}. */
export interface SGDOptions {
  /** Learning rate; reference pretraining 1.0 (`pytorch/config.py`). */
  lr: number;
  /** Momentum μ; reference 0.9 (`pytorch/Genesis_Chest_CT.py`). Default 0. */
  momentum?: number;
  /** L2 weight decay added to the gradient (PyTorch `weight_decay`); reference 0. */
  weightDecay?: number;
  /** Nesterov momentum (PyTorch `nesterov`); reference false. */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent with momentum in PyTorch's form (`torch.optim.SGD`):
 * b ← μ·b + g, p ← p − lr·b (Nesterov: p ← p − lr·(g + μ·b)). This differs from Keras/tfjs
 * (v ← μ·v − lr·g) only when lr changes, as it does under StepLR.
 */
export class SGD extends SlotOptimizer implements Optimizer {
  readonly kind = "sgd" as const;
  lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(opts: SGDOptions) {
    super();
    this.lr = opts.lr;
    this.momentum = opts.momentum ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.nesterov = opts.nesterov ?? false;
  }

  applyGradients(grads: ReadonlyMap<string, tf.Tensor>, weights: ReadonlyMap<string, tf.Variable>): void {
    tf.tidy(() => {
      for (const [name, g0] of grads) {
        const w = check(name, g0, weights);
        let g = this.weightDecay ? tf.add(g0, tf.mul(w, this.weightDecay)) : g0;
        if (this.momentum) {
          const b = this.slot(`${name}/momentum`, w);
          const nb = tf.add(tf.mul(b, this.momentum), g);
          b.assign(nb);
          g = this.nesterov ? tf.add(g, tf.mul(nb, this.momentum)) : nb;
        }
        w.assign(tf.sub(w, tf.mul(g, this.lr)));
      }
    });
    this.iters++;
  }

  async getState(): Promise<OptimizerState> {
    return {
      kind: "sgd",
      lr: this.lr,
      iterations: this.iters,
      config: { momentum: this.momentum, weightDecay: this.weightDecay, nesterov: this.nesterov },
      slots: await this.slotStates(),
    };
  }

  setState(state: OptimizerState): void {
    if (state.kind !== "sgd")
      throw new CheckpointError(`SGD.setState: the checkpoint holds a "${state.kind}" optimizer`);
    this.lr = state.lr;
    this.iters = state.iterations;
    this.loadSlots(state.slots);
  }
}

/** Options of {@link Adam}; defaults are Keras 2.x `Adam` (the reference fine-tuning optimizer). */
export interface AdamOptions {
  /** Learning rate; reference fine-tuning 1e-3 (1e-2 for LCS), `keras/downstream_tasks/config.py`. */
  lr: number;
  beta1?: number;
  beta2?: number;
  /** Keras `K.epsilon()` = 1e-7 (PyTorch uses 1e-8). */
  epsilon?: number;
}

/**
 * Adam in Keras 2.x form (`keras/optimizers.py`): t ← t + 1, lr_t = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ),
 * m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², p ← p − lr_t·m/(√v + ε).
 */
export class Adam extends SlotOptimizer implements Optimizer {
  readonly kind = "adam" as const;
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;

  constructor(opts: AdamOptions) {
    super();
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-7;
  }

  applyGradients(grads: ReadonlyMap<string, tf.Tensor>, weights: ReadonlyMap<string, tf.Variable>): void {
    const t = this.iters + 1;
    const lrT = (this.lr * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
    tf.tidy(() => {
      for (const [name, g] of grads) {
        const w = check(name, g, weights);
        const m = this.slot(`${name}/m`, w);
        const v = this.slot(`${name}/v`, w);
        const nm = tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1));
        const nv = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        m.assign(nm);
        v.assign(nv);
        w.assign(tf.sub(w, tf.div(tf.mul(nm, lrT), tf.add(tf.sqrt(nv), this.epsilon))));
      }
    });
    this.iters = t;
  }

  async getState(): Promise<OptimizerState> {
    return {
      kind: "adam",
      lr: this.lr,
      iterations: this.iters,
      config: { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon },
      slots: await this.slotStates(),
    };
  }

  setState(state: OptimizerState): void {
    if (state.kind !== "adam")
      throw new CheckpointError(`Adam.setState: the checkpoint holds a "${state.kind}" optimizer`);
    this.lr = state.lr;
    this.iters = state.iterations;
    this.loadSlots(state.slots);
  }
}

/** Build an optimizer from a saved state's kind and config (used when resuming without a live one). */
export function optimizerFromState(state: OptimizerState): Optimizer {
  const c = state.config;
  const opt =
    state.kind === "sgd"
      ? new SGD({
          lr: state.lr,
          momentum: Number(c.momentum),
          weightDecay: Number(c.weightDecay),
          nesterov: Boolean(c.nesterov),
        })
      : new Adam({
          lr: state.lr,
          beta1: Number(c.beta1),
          beta2: Number(c.beta2),
          epsilon: Number(c.epsilon),
        });
  opt.setState(state);
  return opt;
}
