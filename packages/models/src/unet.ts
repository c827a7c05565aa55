import type { BatchNormMode } from "@models-genesis/kernels";
import * as tf from "@tensorflow/tfjs-core";
import {
  type GenesisUNetConfig,
  type GenesisUNetConfigInput,
  ModelConfigError,
  resolveConfig,
  SPATIAL_MULTIPLE,
} from "./config.js";
import type { GenesisModule } from "./module.js";
import { ops2d, ops3d, type SpatialOps } from "./spatial-ops.js";
import { buildPlan, type ConvBlockNames, type NetworkPlan, type WeightSpec } from "./specs.js";

/** A named array in our (channels-last) layout, e.g. read from an importer or a saved model. */
export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

/** Thrown when a set of weights does not match a model: lists every missing, unexpected and mis-shaped key. */
export class WeightMismatchError extends Error {
  override name = "WeightMismatchError";
  constructor(
    readonly source: string,
    readonly missing: string[],
    readonly unexpected: string[],
    readonly misShaped: { name: string; expected: number[]; got: number[] }[],
  ) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing keys (${missing.length}): ${missing.join(", ")}`);
    if (unexpected.length) parts.push(`unexpected keys (${unexpected.length}): ${unexpected.join(", ")}`);
    if (misShaped.length) {
      parts.push(
        `mis-shaped keys (${misShaped.length}): ${misShaped
          .map((m) => `${m.name} expected [${m.expected.join(",")}] got [${m.got.join(",")}]`)
          .join("; ")}`,
      );
    }
    super(`${source}: weights do not match the model: ${parts.join("; ")}`);
  }
}

/** Options of {@link GenesisUNet.setWeights}. */
export interface SetWeightsOptions {
  /** Where the weights come from, for error messages (a file path). */
  source?: string;
  /** Model keys that may be absent from `values` (they keep their current values), e.g. a new head. */
  allowMissing?: (name: string) => boolean;
  /** Keys of `values` the model may ignore, e.g. the decoder when loading into a classifier. */
  allowUnexpected?: (name: string) => boolean;
}

/** Options of {@link createModel}. */
export interface CreateModelOptions {
  /** Seed of the weight initialiser (default 0): the same seed gives the same weights on every backend. */
  seed?: number;
}

let modelCounter = 0;

/**
 * A Models Genesis U-Net (3-D or slice-wise 2-D) with a segmentation or classification head,
 * implementing {@link GenesisModule}.
 *
 * Input: NDHWC (N, rows, cols, deps, inChannels) — or NHWC for 2-D — with every spatial size a
 * multiple of 8 (three 2×2×2 max-pools; `pytorch/unet3d.py`, `keras/unet3d.py`).
 * Output: segmentation (N, rows, cols, deps, nClasses); classification (N, nClasses).
 *
 * Weights are `tf.Variable`s keyed by the official names (see `buildPlan`): the PyTorch
 * `state_dict` key without `module.` for the torch variant (e.g. `down_tr64.ops.0.conv1.weight`,
 * stored in our layout (3, 3, 3, in, out)), the Keras weight name without `:0` for the keras
 * variant (e.g. `depth_0_conv/kernel`).
 */
export class GenesisUNet implements GenesisModule {
  readonly architecture: GenesisUNetConfig;
  readonly specs: readonly WeightSpec[];
  readonly trainableWeights: ReadonlyMap<string, tf.Variable>;
  readonly nonTrainableWeights: ReadonlyMap<string, tf.Variable>;
  private readonly plan: NetworkPlan;
  private readonly ops: SpatialOps;
  private readonly all = new Map<string, tf.Variable>();
  private disposed = false;

  constructor(config: GenesisUNetConfig, opts: CreateModelOptions = {}) {
    this.architecture = config;
    const { plan, specs } = buildPlan(config);
    this.plan = plan;
    this.specs = specs;
    this.ops = config.spatialDims === 3 ? ops3d : ops2d;
    const uid = modelCounter++;
    const trainable = new Map<string, tf.Variable>();
    const nonTrainable = new Map<string, tf.Variable>();
    const seed = opts.seed ?? 0;
    specs.forEach((s, i) => {
      const init = tf.tidy(() => {
        switch (s.init.kind) {
          case "zeros":
            return tf.zeros(s.shape);
          case "ones":
            return tf.ones(s.shape);
          default:
            return tf.randomUniform(s.shape, -s.init.bound, s.init.bound, "float32", seed * 100_003 + i);
        }
      });
      const v = tf.variable(init, s.trainable, `genesis${uid}/${s.name}`);
      init.dispose();
      (s.trainable ? trainable : nonTrainable).set(s.name, v);
      this.all.set(s.name, v);
    });
    this.trainableWeights = trainable;
    this.nonTrainableWeights = nonTrainable;
  }

  /** JSON config that rebuilds this architecture with {@link createModel}. */
  get config(): Record<string, unknown> {
    return { ...this.architecture, head: { ...this.architecture.head } };
  }

  /** Every variable (trainable first, in plan order) keyed by name. */
  get weights(): ReadonlyMap<string, tf.Variable> {
    return this.all;
  }

  /**
   * Run the network (see the class documentation for shapes). With `training: true`, BatchNorm
   * normalises with the batch statistics and updates the running statistics in place:
   * torch `r ← (1−m)·r + m·s` with m = 0.1 and the unbiased batch variance n/(n−1)·σ²
   * (`torch.nn.functional.batch_norm`); keras `r ← m·r + (1−m)·s` with m = 0.99 and
   * σ²·n/(n − (1 + eps)) (Keras 2.2 `BatchNormalization.call`), n = voxels per channel in the batch.
   * With `training: false` BatchNorm follows `bnMode`; the reference `ContBatchNorm3d` also updates
   * its running statistics at evaluation time — this implementation leaves them unchanged.
   * `bnMode` (with `training: false` only) overrides `architecture.bnMode` for this call, e.g. a
   * model's metadata `inferenceBnMode`.
   * @throws ModelConfigError when x has the wrong rank, channel count or a spatial size not a multiple of 8.
   */
  forward(x: tf.Tensor, opts: { training: boolean; bnMode?: BatchNormMode }): tf.Tensor {
    this.checkInput(x);
    const training = opts.training;
    const bnMode: BatchNormMode = training ? "batch-statistics" : (opts.bnMode ?? this.architecture.bnMode);
    return tf.tidy(() => {
      const skips: tf.Tensor[] = [];
      let h = x;
      this.plan.encoder.forEach(([b0, b1], d) => {
        h = this.convBlock(h, b0, bnMode, training);
        h = this.convBlock(h, b1, bnMode, training);
        if (d < 3) {
          skips.push(h);
          h = this.ops.maxPool2(h);
        }
      });
      const head = this.plan.head;
      if (head.kind === "classification") {
        const spatialAxes = Array.from({ length: this.architecture.spatialDims }, (_, i) => i + 1);
        const pooled = tf.mean(h, spatialAxes) as tf.Tensor2D;
        const h1 = tf.relu(
          tf.add(tf.matMul(pooled, this.v(head.dense1.kernel) as tf.Tensor2D), this.v(head.dense1.bias)),
        );
        const logits = tf.add(
          tf.matMul(h1 as tf.Tensor2D, this.v(head.dense2.kernel) as tf.Tensor2D),
          this.v(head.dense2.bias),
        );
        return this.activate(logits);
      }
      this.plan.decoder.forEach((level, i) => {
        const up = level.up
          ? this.ops.convTranspose2(h, this.v(level.up.kernel), this.v(level.up.bias) as tf.Tensor1D)
          : this.ops.upsample2(h);
        h = tf.concat([up, skips[2 - i]], -1);
        h = this.convBlock(h, level.blocks[0], bnMode, training);
        h = this.convBlock(h, level.blocks[1], bnMode, training);
      });
      const logits = this.ops.conv(h, this.v(head.kernel), this.v(head.bias) as tf.Tensor1D);
      return this.activate(logits);
    });
  }

  /**
   * Copy named arrays (our layout) into the variables.
   * @throws WeightMismatchError listing every missing, unexpected and mis-shaped key (nothing is changed then).
   */
  setWeights(values: ReadonlyMap<string, NamedArray>, opts: SetWeightsOptions = {}): void {
    const source = opts.source ?? "setWeights";
    const missing: string[] = [];
    const misShaped: { name: string; expected: number[]; got: number[] }[] = [];
    for (const s of this.specs) {
      const val = values.get(s.name);
      if (!val) {
        if (!opts.allowMissing?.(s.name)) missing.push(s.name);
        continue;
      }
      const size = s.shape.reduce((a, b) => a * b, 1);
      if (
        val.shape.length !== s.shape.length ||
        val.shape.some((n, i) => n !== s.shape[i]) ||
        val.data.length !== size
      ) {
        misShaped.push({ name: s.name, expected: s.shape, got: val.shape });
      }
    }
    const unexpected = [...values.keys()].filter((k) => !this.all.has(k) && !opts.allowUnexpected?.(k));
    if (missing.length || unexpected.length || misShaped.length) {
      throw new WeightMismatchError(source, missing, unexpected, misShaped);
    }
    for (const s of this.specs) {
      const val = values.get(s.name);
      if (!val) continue;
      const v = this.all.get(s.name)!;
      tf.tidy(() => v.assign(tf.tensor(val.data, s.shape, "float32")));
    }
  }

  /** Read every variable back as named arrays (our layout), in plan order. */
  async getWeights(): Promise<Map<string, NamedArray>> {
    const out = new Map<string, NamedArray>();
    for (const s of this.specs) {
      const v = this.all.get(s.name)!;
      // A copy: some backends hand out their own storage.
      out.set(s.name, { shape: [...s.shape], data: ((await v.data()) as Float32Array).slice() });
    }
    return out;
  }

  /** Free every variable. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.all.values()) v.dispose();
  }

  private v(name: string): tf.Variable {
    const v = this.all.get(name);
    if (!v) throw new Error(`GenesisUNet: no variable ${name} (internal plan error)`);
    return v;
  }

  private activate(logits: tf.Tensor): tf.Tensor {
    switch (this.architecture.head.activation) {
      case "sigmoid":
        return tf.sigmoid(logits);
      case "softmax":
        return tf.softmax(logits, -1);
      default:
        return logits;
    }
  }

  private convBlock(x: tf.Tensor, n: ConvBlockNames, mode: BatchNormMode, training: boolean): tf.Tensor {
    const { bnEps: eps, bnMomentum: m, variant } = this.architecture;
    const conv = this.ops.conv(x, this.v(n.kernel), this.v(n.bias) as tf.Tensor1D);
    const mean = this.v(n.movingMean) as tf.Tensor1D;
    const variance = this.v(n.movingVariance) as tf.Tensor1D;
    const r = this.ops.batchNormRelu(
      conv,
      {
        gamma: this.v(n.gamma) as tf.Tensor1D,
        beta: this.v(n.beta) as tf.Tensor1D,
        movingMean: mean,
        movingVariance: variance,
        eps,
      },
      mode,
      true,
    );
    if (training && r.batchMean && r.batchVariance) {
      const count = conv.size / conv.shape[conv.rank - 1];
      const bm = r.batchMean;
      const bv = r.batchVariance;
      if (variant === "torch") {
        const unbiased = count > 1 ? count / (count - 1) : 1;
        this.v(n.movingMean).assign(tf.add(tf.mul(mean, 1 - m), tf.mul(bm, m)));
        this.v(n.movingVariance).assign(tf.add(tf.mul(variance, 1 - m), tf.mul(bv, m * unbiased)));
      } else {
        const corr = count / (count - (1 + eps));
        this.v(n.movingMean).assign(tf.add(tf.mul(mean, m), tf.mul(bm, 1 - m)));
        this.v(n.movingVariance).assign(tf.add(tf.mul(variance, m), tf.mul(bv, (1 - m) * corr)));
      }
    }
    // The batch statistics are kept out of any tidy scope by the kernel: the caller frees them.
    r.batchMean?.dispose();
    r.batchVariance?.dispose();
    return r.y;
  }

  private checkInput(x: tf.Tensor): void {
    if (this.disposed) throw new Error("GenesisUNet.forward: the model was disposed");
    const nd = this.architecture.spatialDims;
    const layout = nd === 3 ? "NDHWC (N, rows, cols, deps, C)" : "NHWC (N, rows, cols, C)";
    if (x.rank !== nd + 2) {
      throw new ModelConfigError(
        `GenesisUNet.forward: expected a rank-${nd + 2} ${layout} tensor, got shape [${x.shape.join(", ")}]`,
      );
    }
    const c = x.shape[nd + 1];
    if (c !== this.architecture.inChannels) {
      throw new ModelConfigError(
        `GenesisUNet.forward: expected ${this.architecture.inChannels} input channel(s) (last axis of ${layout}), got shape [${x.shape.join(", ")}]`,
      );
    }
    const spatial = x.shape.slice(1, nd + 1);
    if (spatial.some((s) => s % SPATIAL_MULTIPLE !== 0 || s === 0)) {
      throw new ModelConfigError(
        `GenesisUNet.forward: every spatial size must be a positive multiple of ${SPATIAL_MULTIPLE} (three 2×2×2 max-pools), got [${spatial.join(", ")}] in input shape [${x.shape.join(", ")}]`,
      );
    }
  }
}

/**
 * Build a Genesis U-Net from a config (missing fields take defaults; see `resolveConfig`).
 * Weights are freshly initialised (PyTorch defaults for `torch`, Keras defaults for `keras`).
 */
export function createModelFromConfig(
  config: GenesisUNetConfigInput,
  opts: CreateModelOptions = {},
): GenesisUNet {
  return new GenesisUNet(resolveConfig(config), opts);
}
