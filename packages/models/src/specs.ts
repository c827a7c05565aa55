import type { GenesisUNetConfig } from "./config.js";

/**
 * How a weight is laid out in the official PyTorch checkpoint relative to ours:
 * - `conv`: PyTorch (out, in, k0, k1[, k2]) → ours (k0, k1[, k2], in, out)
 * - `convT`: PyTorch ConvTranspose (in, out, k0, k1[, k2]) → ours (k0, k1[, k2], out, in)
 *   (the tfjs `conv3dTranspose` filter layout)
 * - `linear`: PyTorch (out, in) → ours (in, out)
 * - `vector`: 1-D, unchanged.
 * Keras HDF5 weights are already in our layout (kernels (k0, k1, k2, in, out), Dense (in, out)).
 */
export type WeightLayout = "conv" | "convT" | "linear" | "vector";

/** Initialiser of a freshly created weight. */
export type WeightInit = { kind: "uniform"; bound: number } | { kind: "zeros" } | { kind: "ones" };

/** One variable of a Genesis network. */
export interface WeightSpec {
  /** Stable key: the official `state_dict` key (torch) or Keras weight name without `:0` (keras). */
  name: string;
  /** Shape in our (channels-last) layout. */
  shape: number[];
  trainable: boolean;
  layout: WeightLayout;
  init: WeightInit;
}

/** A conv + BN + ReLU block as the forward pass sees it: the names of its variables. */
export interface ConvBlockNames {
  kernel: string;
  bias: string;
  gamma: string;
  beta: string;
  movingMean: string;
  movingVariance: string;
}

/** Names of every variable used by the forward pass, in execution order. */
export interface NetworkPlan {
  /** Four encoder levels, two blocks each. */
  encoder: [ConvBlockNames, ConvBlockNames][];
  /** Three decoder levels (bottom-up); `up` is set for the torch variant's transposed conv. */
  decoder: { up?: { kernel: string; bias: string }; blocks: [ConvBlockNames, ConvBlockNames] }[];
  /** Segmentation head 1×1×1 conv, or classification Dense layers. */
  head:
    | { kind: "segmentation"; kernel: string; bias: string }
    | {
        kind: "classification";
        dense1: { kernel: string; bias: string };
        dense2: { kernel: string; bias: string };
      };
}

/** PyTorch module names of the reference (`pytorch/unet3d.py` `UNet3D.__init__`), fixed whatever the width. */
const TORCH_DOWN = ["down_tr64", "down_tr128", "down_tr256", "down_tr512"];
const TORCH_UP = ["up_tr256", "up_tr128", "up_tr64"];

/**
 * The network plan and the ordered weight specs for a config.
 *
 * Channel plan (reference-facts "Architectures"): encoder level d = 0..3 has convs
 * (in → w·2^d) and (w·2^d → w·2^(d+1)); decoder level d = 2, 1, 0 concatenates the up-sampled
 * features (first) with the skip of level d (w·2^(d+1) channels, second) and applies two convs to
 * w·2^(d+1) channels. The torch decoder up-samples with ConvTranspose(k 2, s 2) keeping channels.
 */
export function buildPlan(config: GenesisUNetConfig): { plan: NetworkPlan; specs: WeightSpec[] } {
  const { variant, spatialDims: nd, width: w, inChannels } = config;
  const specs: WeightSpec[] = [];
  const k3 = new Array<number>(nd).fill(3);
  const torch = variant === "torch";
  const add = (name: string, shape: number[], trainable: boolean, layout: WeightLayout, init: WeightInit) =>
    specs.push({ name, shape, trainable, layout, init });

  const convBlock = (prefix: string, bnPrefix: string, cin: number, cout: number): ConvBlockNames => {
    const fanIn = cin * 3 ** nd;
    const fanOut = cout * 3 ** nd;
    const names: ConvBlockNames = torch
      ? {
          kernel: `${prefix}.weight`,
          bias: `${prefix}.bias`,
          gamma: `${bnPrefix}.weight`,
          beta: `${bnPrefix}.bias`,
          movingMean: `${bnPrefix}.running_mean`,
          movingVariance: `${bnPrefix}.running_var`,
        }
      : {
          kernel: `${prefix}/kernel`,
          bias: `${prefix}/bias`,
          gamma: `${bnPrefix}/gamma`,
          beta: `${bnPrefix}/beta`,
          movingMean: `${bnPrefix}/moving_mean`,
          movingVariance: `${bnPrefix}/moving_variance`,
        };
    add(names.kernel, [...k3, cin, cout], true, "conv", kernelInit(torch, fanIn, fanOut));
    add(names.bias, [cout], true, "vector", torch ? { kind: "uniform", bound: 1 / Math.sqrt(fanIn) } : ZEROS);
    add(names.gamma, [cout], true, "vector", { kind: "ones" });
    add(names.beta, [cout], true, "vector", ZEROS);
    add(names.movingMean, [cout], false, "vector", ZEROS);
    add(names.movingVariance, [cout], false, "vector", { kind: "ones" });
    return names;
  };
  const block = (torchModule: string, j: 0 | 1, kerasIndex: number, cin: number, cout: number) =>
    torch
      ? convBlock(`${torchModule}.ops.${j}.conv1`, `${torchModule}.ops.${j}.bn1`, cin, cout)
      : convBlock(`depth_${kerasIndex}_conv`, `depth_${kerasIndex}_bn`, cin, cout);

  const encoder: NetworkPlan["encoder"] = [];
  for (let d = 0; d < 4; d++) {
    const cin = d === 0 ? inChannels : w * 2 ** d;
    encoder.push([
      block(TORCH_DOWN[d], 0, 2 * d, cin, w * 2 ** d),
      block(TORCH_DOWN[d], 1, 2 * d + 1, w * 2 ** d, w * 2 ** (d + 1)),
    ]);
  }
  const decoder: NetworkPlan["decoder"] = [];
  const head = config.head;
  if (head.kind === "segmentation") {
    for (let i = 0; i < 3; i++) {
      const d = 2 - i; // decoder level
      const cUp = w * 2 ** (d + 2); // channels coming from below
      const cSkip = w * 2 ** (d + 1);
      let up: { kernel: string; bias: string } | undefined;
      if (torch) {
        const m = TORCH_UP[i];
        up = { kernel: `${m}.up_conv.weight`, bias: `${m}.up_conv.bias` };
        // ConvTranspose fan_in as PyTorch computes it: weight.size(1) · receptive field = out · 2^nd.
        const fanIn = cUp * 2 ** nd;
        add(up.kernel, [...new Array<number>(nd).fill(2), cUp, cUp], true, "convT", {
          kind: "uniform",
          bound: 1 / Math.sqrt(fanIn),
        });
        add(up.bias, [cUp], true, "vector", { kind: "uniform", bound: 1 / Math.sqrt(fanIn) });
      }
      decoder.push({
        up,
        blocks: [
          block(TORCH_UP[i], 0, 8 + 2 * i, cUp + cSkip, cSkip),
          block(TORCH_UP[i], 1, 9 + 2 * i, cSkip, cSkip),
        ],
      });
    }
    const kernel = torch ? "out_tr.final_conv.weight" : "final_conv/kernel";
    const bias = torch ? "out_tr.final_conv.bias" : "final_conv/bias";
    const cin = 2 * w;
    add(
      kernel,
      [...new Array<number>(nd).fill(1), cin, head.nClasses],
      true,
      "conv",
      kernelInit(torch, cin, head.nClasses),
    );
    add(
      bias,
      [head.nClasses],
      true,
      "vector",
      torch ? { kind: "uniform", bound: 1 / Math.sqrt(cin) } : ZEROS,
    );
    return { plan: { encoder, decoder, head: { kind: "segmentation", kernel, bias } }, specs };
  }
  const dense = (name: string, cin: number, cout: number) => {
    const kernel = torch ? `${name}.weight` : `${name}/kernel`;
    const bias = torch ? `${name}.bias` : `${name}/bias`;
    add(kernel, [cin, cout], true, "linear", kernelInit(torch, cin, cout));
    add(bias, [cout], true, "vector", torch ? { kind: "uniform", bound: 1 / Math.sqrt(cin) } : ZEROS);
    return { kernel, bias };
  };
  const dense1 = dense("dense_1", 16 * w, head.hiddenUnits);
  const dense2 = dense("dense_2", head.hiddenUnits, head.nClasses);
  return { plan: { encoder, decoder, head: { kind: "classification", dense1, dense2 } }, specs };
}

const ZEROS: WeightInit = { kind: "zeros" };

/**
 * PyTorch default (`kaiming_uniform_(a=√5)` ⇒ U(±1/√fan_in)) or Keras default (`glorot_uniform`
 * ⇒ U(±√(6/(fan_in+fan_out)))).
 */
function kernelInit(torch: boolean, fanIn: number, fanOut: number): WeightInit {
  return torch
    ? { kind: "uniform", bound: 1 / Math.sqrt(fanIn) }
    : { kind: "uniform", bound: Math.sqrt(6 / (fanIn + fanOut)) };
}

/** Options of {@link countParams}. */
export interface CountParamsOptions {
  /**
   * Also count BatchNorm running statistics (non-trainable). Default false, which is what
   * `sum(p.numel() for p in model.parameters())` (PyTorch) and `model.count_params()` of
   * trainable weights give: 19,073,665 (torch) and 16,320,257 (keras) at width 32.
   */
  includeNonTrainable?: boolean;
}

/**
 * Number of parameters of a config, computed from the weight shapes (nothing is allocated).
 *
 * At width 32 with one input channel and one output class: torch variant 19,073,665 trainable
 * (+ 4,672 running statistics); keras variant 16,320,257 trainable (+ 4,672 moving statistics).
 */
export function countParamsOfConfig(config: GenesisUNetConfig, opts: CountParamsOptions = {}): number {
  let n = 0;
  for (const s of buildPlan(config).specs) {
    if (s.trainable || opts.includeNonTrainable) n += s.shape.reduce((a, b) => a * b, 1);
  }
  return n;
}
