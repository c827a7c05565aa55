/**
 * ONNX export of a Genesis U-Net (3-D torch/keras variants and the slice-wise 2-D model,
 * segmentation and classification heads, both BatchNorm modes), written through protobufjs
 * ({@link encodeModel}). Opset 17 (IR version 8).
 *
 * The graph takes our layout, NDHWC (N, rows, cols, deps, C) — NHWC for 2-D — transposes to
 * ONNX's channels-first NCDHW once, runs Conv/BatchNormalization/MaxPool/ConvTranspose/Resize,
 * and transposes the segmentation output back (classification: (N, classes)). Batch and spatial
 * axes are symbolic (`batch`, `rows`, `cols`, `deps`): any batch, any spatial size that is a
 * multiple of 8.
 */
import {
  buildPlan,
  type GenesisUNet,
  type GenesisUNetConfig,
  type ModelMetadata,
  type NamedArray,
} from "@models-genesis/models";
import { writeFileAtomic } from "@models-genesis/volume-io";
import { onnxMetadataProps } from "./metadata.js";
import {
  type AttributeObj,
  AttrType,
  DataType,
  encodeModel,
  type ModelObj,
  type NodeObj,
  type TensorObj,
} from "./proto.js";

type BatchNormMode = ModelMetadata["bnMode"];

/** ONNX operator set the graphs use (ReduceMean keeps its `axes` attribute up to 17). */
export const ONNX_OPSET = 17;
/** IR version that goes with opset 17. */
export const ONNX_IR_VERSION = 8;

/** Options of {@link buildOnnxModel}. */
export interface OnnxExportOptions {
  /**
   * BatchNorm statistics of the graph. `running-statistics` → `BatchNormalization` with the
   * stored mean/variance; `batch-statistics` → explicit `ReduceMean` over (N, spatial) of the
   * input and of its squared deviation (biased variance), as our forward pass and the reference
   * `ContBatchNorm3d` do. Default: `metadata.inferenceBnMode`, else `metadata.bnMode`.
   */
  bnMode?: BatchNormMode;
  /** Graph input layout: `channels-last` (NDHWC/NHWC, default, our convention) or `channels-first` (NCDHW/NCHW). */
  layout?: "channels-last" | "channels-first";
  /** `producer_version` (default "0"). */
  producerVersion?: string;
}

/** Thrown when weights and architecture do not agree, naming the weight. */
export class OnnxExportError extends Error {
  override name = "OnnxExportError";
}

/** Permute a C-order array: `perm[i]` is the source axis of output axis i. */
export function transposeArray(data: Float32Array, shape: number[], perm: number[]): Float32Array {
  const r = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const srcStrides = new Array<number>(r);
  srcStrides[r - 1] = 1;
  for (let i = r - 2; i >= 0; i--) srcStrides[i] = srcStrides[i + 1] * shape[i + 1];
  const stride = perm.map((p) => srcStrides[p]);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(r).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src];
    for (let a = r - 1; a >= 0; a--) {
      idx[a]++;
      src += stride[a];
      if (idx[a] < outShape[a]) break;
      src -= stride[a] * outShape[a];
      idx[a] = 0;
    }
  }
  return out;
}

class GraphBuilder {
  readonly nodes: NodeObj[] = [];
  readonly inits: TensorObj[] = [];
  private n = 0;

  op(opType: string, inputs: string[], attrs: AttributeObj[] = [], name?: string): string {
    const out = name ?? `${opType.toLowerCase()}_${this.n++}`;
    this.nodes.push({ opType, input: inputs, output: [out], name: out, attribute: attrs });
    return out;
  }

  float(name: string, dims: number[], data: Float32Array): string {
    const bytes = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    this.inits.push({ name, dims, dataType: DataType.FLOAT, rawData: bytes });
    return name;
  }

  int64(name: string, values: number[]): string {
    this.inits.push({ name, dims: [values.length], dataType: DataType.INT64, int64Data: values });
    return name;
  }
}

const ints = (name: string, v: number[]): AttributeObj => ({ name, type: AttrType.INTS, ints: v });
const int = (name: string, v: number): AttributeObj => ({ name, type: AttrType.INT, i: v });
const flt = (name: string, v: number): AttributeObj => ({ name, type: AttrType.FLOAT, f: v });
const str = (name: string, v: string): AttributeObj => ({
  name,
  type: AttrType.STRING,
  s: new TextEncoder().encode(v),
});

/**
 * Build the ONNX model of a Genesis U-Net from its architecture and weights (our channels-last
 * layout, as `GenesisUNet.getWeights()` gives them; names from `buildPlan`).
 * Kernel layouts: conv (k…, in, out) → ONNX `Conv` W (out, in, k…); transposed conv
 * (k…, out, in) → ONNX `ConvTranspose` W (in, out, k…); Dense (in, out) → `MatMul` B as is.
 * @returns the serialised `ModelProto`.
 * @throws OnnxExportError for a missing or mis-shaped weight.
 */
export function buildOnnxModel(
  architecture: GenesisUNetConfig,
  weights: ReadonlyMap<string, NamedArray>,
  metadata: ModelMetadata,
  opts: OnnxExportOptions = {},
): Uint8Array {
  const a = architecture;
  const nd = a.spatialDims;
  const bnMode: BatchNormMode = opts.bnMode ?? metadata.inferenceBnMode ?? metadata.bnMode ?? a.bnMode;
  if (bnMode !== "batch-statistics" && bnMode !== "running-statistics") {
    throw new OnnxExportError(
      `ONNX export: bnMode must be batch-statistics or running-statistics, got ${JSON.stringify(bnMode)}`,
    );
  }
  const channelsLast = (opts.layout ?? "channels-last") === "channels-last";
  const { plan, specs } = buildPlan(a);
  for (const s of specs) {
    const w = weights.get(s.name);
    if (!w) throw new OnnxExportError(`ONNX export: weight ${s.name} is missing`);
    const size = s.shape.reduce((x, y) => x * y, 1);
    if (w.data.length !== size || w.shape.join(",") !== s.shape.join(",")) {
      throw new OnnxExportError(
        `ONNX export: weight ${s.name} has shape [${w.shape.join(",")}], the architecture needs [${s.shape.join(",")}]`,
      );
    }
  }
  const W = (name: string) => weights.get(name)!;
  const g = new GraphBuilder();
  const spatial = Array.from({ length: nd }, (_, i) => i + 2); // NC… spatial axes
  const bcast = [1, -1, ...new Array<number>(nd).fill(1)]; // (C) → (1, C, 1…)
  const bcastDims = (c: number) => bcast.map((d) => (d === -1 ? c : d));
  const toFirst = [0, nd + 1, ...Array.from({ length: nd }, (_, i) => i + 1)];
  const toLast = [0, ...spatial, 1];
  const kernelToOnnx = [nd + 1, nd, ...Array.from({ length: nd }, (_, i) => i)]; // (k…, a, b) → (b, a, k…)

  const convW = (name: string) => {
    const w = W(name);
    const perm = kernelToOnnx;
    return g.float(
      name,
      perm.map((p) => w.shape[p]),
      transposeArray(w.data, w.shape, perm),
    );
  };
  const vec = (name: string, dims?: number[]) => {
    const w = W(name);
    return g.float(dims ? `${name}:bcast` : name, dims ?? w.shape, w.data);
  };
  const conv = (x: string, kernel: string, bias: string) => {
    const k = W(kernel).shape.slice(0, nd);
    const pads = [...k.map((s) => (s - 1) / 2), ...k.map((s) => (s - 1) / 2)];
    return g.op(
      "Conv",
      [x, convW(kernel), vec(bias)],
      [
        ints("kernel_shape", k),
        ints("pads", pads),
        ints(
          "strides",
          k.map(() => 1),
        ),
      ],
    );
  };
  const reduceAxes = [0, ...spatial];
  const block = (x: string, n: (typeof plan.encoder)[number][number]) => {
    const c = conv(x, n.kernel, n.bias);
    const ch = W(n.gamma).shape[0];
    let y: string;
    if (bnMode === "running-statistics") {
      y = g.op(
        "BatchNormalization",
        [c, vec(n.gamma), vec(n.beta), vec(n.movingMean), vec(n.movingVariance)],
        [flt("epsilon", a.bnEps)],
      );
    } else {
      // Batch statistics: mean and biased variance over (N, spatial) per channel, as the kernels'
      // batchNormRelu: y = (x − μ) · γ / √(σ² + ε) + β.
      const mean = g.op("ReduceMean", [c], [ints("axes", reduceAxes), int("keepdims", 1)]);
      const xc = g.op("Sub", [c, mean]);
      const variance = g.op(
        "ReduceMean",
        [g.op("Mul", [xc, xc])],
        [ints("axes", reduceAxes), int("keepdims", 1)],
      );
      const eps = g.float(`${n.gamma}:eps`, [], new Float32Array([a.bnEps]));
      const invStd = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [variance, eps])])]);
      const scale = g.op("Mul", [invStd, vec(n.gamma, bcastDims(ch))]);
      y = g.op("Add", [g.op("Mul", [xc, scale]), vec(n.beta, bcastDims(ch))]);
    }
    return g.op("Relu", [y]);
  };

  const input = "input";
  let h = channelsLast ? g.op("Transpose", [input], [ints("perm", toFirst)]) : input;
  const skips: string[] = [];
  plan.encoder.forEach(([b0, b1], d) => {
    h = block(h, b0);
    h = block(h, b1);
    if (d < 3) {
      skips.push(h);
      h = g.op(
        "MaxPool",
        [h],
        [
          ints(
            "kernel_shape",
            spatial.map(() => 2),
          ),
          ints(
            "strides",
            spatial.map(() => 2),
          ),
        ],
      );
    }
  });
  const head = plan.head;
  const activation = a.head.activation;
  let output: string;
  let outputDims: (number | string)[];
  const symbolic = nd === 3 ? ["rows", "cols", "deps"] : ["rows", "cols"];
  if (head.kind === "classification") {
    const pooled = g.op("ReduceMean", [h], [ints("axes", spatial), int("keepdims", 0)]);
    const h1 = g.op("Relu", [
      g.op("Add", [g.op("MatMul", [pooled, vec(head.dense1.kernel)]), vec(head.dense1.bias)]),
    ]);
    const logits = g.op("Add", [g.op("MatMul", [h1, vec(head.dense2.kernel)]), vec(head.dense2.bias)]);
    output = activate(g, logits, activation, -1);
    outputDims = ["batch", a.head.nClasses];
  } else {
    plan.decoder.forEach((level, i) => {
      let up: string;
      if (level.up) {
        const k = W(level.up.kernel).shape.slice(0, nd);
        up = g.op(
          "ConvTranspose",
          [h, convW(level.up.kernel), vec(level.up.bias)],
          [
            ints("kernel_shape", k),
            ints(
              "strides",
              k.map(() => 2),
            ),
          ],
        );
      } else {
        const scales = g.float(
          `resize_scales_${i}`,
          [nd + 2],
          new Float32Array([1, 1, ...spatial.map(() => 2)]),
        );
        up = g.op(
          "Resize",
          [h, "", scales],
          [
            str("mode", "nearest"),
            str("coordinate_transformation_mode", "asymmetric"),
            str("nearest_mode", "floor"),
          ],
        );
      }
      h = g.op("Concat", [up, skips[2 - i]], [int("axis", 1)]);
      h = block(h, level.blocks[0]);
      h = block(h, level.blocks[1]);
    });
    const logits = conv(h, head.kernel, head.bias);
    const act = activate(g, logits, activation, 1);
    output = channelsLast ? g.op("Transpose", [act], [ints("perm", toLast)]) : act;
    outputDims = channelsLast
      ? ["batch", ...symbolic, a.head.nClasses]
      : ["batch", a.head.nClasses, ...symbolic];
  }
  // The node that computes the result writes the graph output "output".
  const final = g.nodes.find((n) => n.output[0] === output);
  if (!final) throw new OnnxExportError("ONNX export: no node computes the output (internal error)");
  final.output = ["output"];

  const inputDims: (number | string)[] = channelsLast
    ? ["batch", ...symbolic, a.inChannels]
    : ["batch", a.inChannels, ...symbolic];
  const valueInfo = (name: string, dims: (number | string)[]) => ({
    name,
    type: {
      tensorType: {
        elemType: DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
  const layoutName = channelsLast ? (nd === 3 ? "NDHWC" : "NHWC") : nd === 3 ? "NCDHW" : "NCHW";
  const model: ModelObj = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: "models-genesis-ts",
    producerVersion: opts.producerVersion ?? "0",
    domain: "org.models-genesis",
    modelVersion: 1,
    docString: `Models Genesis ${a.spatialDims}-D U-Net (${a.variant} variant, width ${a.width}, ${a.head.kind} head, ${bnMode} BatchNorm); input ${layoutName} float32; facts in metadata_props (genesis.*)`,
    graph: {
      name: "genesis_unet",
      node: g.nodes,
      initializer: g.inits,
      input: [valueInfo(input, inputDims)],
      output: [valueInfo("output", outputDims)],
    },
    metadataProps: onnxMetadataProps(metadata, {
      graphBnMode: bnMode,
      inputLayout: layoutName,
      outputLayout: head.kind === "classification" ? "NC" : layoutName,
      inChannels: a.inChannels,
    }),
  };
  return encodeModel(model);
}

function activate(g: GraphBuilder, logits: string, activation: string, axis: number): string {
  if (activation === "sigmoid") return g.op("Sigmoid", [logits]);
  if (activation === "softmax") return g.op("Softmax", [logits], [int("axis", axis)]);
  return g.op("Identity", [logits]);
}

/**
 * Export a loaded model: its weights read back from the backend, then {@link buildOnnxModel}.
 * @returns the serialised ONNX model.
 */
export async function exportOnnx(
  model: GenesisUNet,
  metadata: ModelMetadata,
  opts: OnnxExportOptions = {},
): Promise<Uint8Array> {
  return buildOnnxModel(model.architecture, await model.getWeights(), metadata, opts);
}

/** Write ONNX bytes atomically (temporary file, then rename). */
export async function writeOnnxFile(file: string, bytes: Uint8Array): Promise<void> {
  await writeFileAtomic(file, bytes);
}
