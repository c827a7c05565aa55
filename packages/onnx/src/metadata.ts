/**
 * The model's facts in an ONNX file's `metadata_props`, so another tool can use the file alone.
 * One writer ({@link onnxMetadataProps}) and one reader ({@link readOnnxMetadata}).
 */
import { type ModelMetadata, upgradeMetadata } from "@models-genesis/models";
import type { PreprocessingRecord } from "@models-genesis/volume-io";

type BatchNormMode = ModelMetadata["bnMode"];

/** Version of the `genesis.*` key set below; bumped on incompatible changes. */
export const ONNX_METADATA_VERSION = 1;
/** Key prefix of every property this package writes. */
export const KEY_PREFIX = "genesis.";

/** What the exported graph itself does, beside the model's metadata. */
export interface OnnxGraphFacts {
  /** BatchNorm statistics the graph uses (running → `BatchNormalization`; batch → explicit reductions). */
  graphBnMode: BatchNormMode;
  /** Input layout of the graph: NDHWC/NHWC (our convention) or NCDHW/NCHW. */
  inputLayout: string;
  /** Output layout: NDHWC/NHWC/NCDHW/NCHW for segmentation, `NC` for classification. */
  outputLayout: string;
  /** Input channels. */
  inChannels: number;
}

/**
 * The model's preprocessing record (`ModelMetadata.preprocessing`, a {@link PreprocessingRecord}:
 * modality, window → range, spacing or resize, crop, patch size, orientation) — the one home of
 * these facts; models saved before the record existed are upgraded on load (`upgradeMetadata`).
 */
export type OnnxPreprocessingFacts = PreprocessingRecord;

/**
 * `metadata_props` entries for a model: flat `genesis.*` keys another tool can read without our
 * code (values are strings; numbers and arrays are JSON), plus the whole {@link ModelMetadata} as
 * JSON under `genesis.metadata` so {@link readOnnxMetadata} gives it back unchanged.
 *
 * Keys: `format_version`, `variant` (torch|keras), `spatial_dims`, `width`, `in_channels`,
 * `output_kind` (segmentation|classification), `classes`, `activation`, `head` (JSON),
 * `bn_mode` (the graph's), `model_bn_mode`, `inference_bn_mode`, `input_layout`, `output_layout`,
 * `spatial_multiple`, and the preprocessing record's fields: `modality`, `intensity_window`,
 * `intensity_range`, `spacing_mm`, `resize`, `crop`, `patch_size` (x/y/z voxels), `orientation`,
 * `preprocessing_source`; then `preprocessing` (the record's JSON) and `metadata`.
 */
export function onnxMetadataProps(
  metadata: ModelMetadata,
  graph: OnnxGraphFacts,
): { key: string; value: string }[] {
  const p = metadata.preprocessing;
  const j = (v: unknown) => JSON.stringify(v);
  const entries: [string, string][] = [
    ["format_version", String(ONNX_METADATA_VERSION)],
    ["variant", metadata.variant],
    ["spatial_dims", String(metadata.spatialDims)],
    ["width", String(metadata.width)],
    ["in_channels", String(graph.inChannels)],
    ["output_kind", metadata.head.kind],
    ["classes", String(metadata.head.nClasses)],
    ["activation", metadata.head.activation],
    ["head", j(metadata.head)],
    ["bn_mode", graph.graphBnMode],
    ["model_bn_mode", metadata.bnMode],
    ["inference_bn_mode", metadata.inferenceBnMode ?? metadata.bnMode],
    ["input_layout", graph.inputLayout],
    ["output_layout", graph.outputLayout],
    ["spatial_multiple", String(metadata.spatialMultiple || 8)],
    ["modality", p.modality],
    ["intensity_window", j(p.window)],
    ["intensity_range", j(p.range)],
    ["spacing_mm", j(p.spacing)],
    ["resize", j(p.resize)],
    ["crop", j(p.crop)],
    ["patch_size", j(p.patchSize)],
    ["orientation", j(p.orientation)],
    ["preprocessing_source", p.source],
    ["preprocessing", j(p)],
    ["metadata", j(metadata)],
  ];
  return entries.map(([k, v]) => ({ key: KEY_PREFIX + k, value: v }));
}

/** What {@link readOnnxMetadata} gives back. */
export interface OnnxModelFacts {
  metadata: ModelMetadata;
  graph: OnnxGraphFacts;
  preprocessing: OnnxPreprocessingFacts;
  formatVersion: number;
}

/** Thrown when an ONNX file is not a Models Genesis export or its metadata is damaged. */
export class OnnxModelError extends Error {
  override name = "OnnxModelError";
}

/**
 * Read back what {@link onnxMetadataProps} wrote.
 * @param source file name for error messages.
 * @throws OnnxModelError naming `source` when the `genesis.*` keys are missing (a foreign ONNX
 *   file), hold invalid JSON, or come from a newer format version.
 */
export function readOnnxMetadata(props: { key: string; value: string }[], source: string): OnnxModelFacts {
  const map = new Map(props.map((e) => [e.key, e.value]));
  const get = (k: string) => map.get(KEY_PREFIX + k);
  const version = Number(get("format_version"));
  const raw = get("metadata");
  if (!get("format_version") || raw === undefined) {
    throw new OnnxModelError(
      `${source}: not a Models Genesis ONNX export (no genesis.metadata in metadata_props); export one with genesis export`,
    );
  }
  if (!Number.isInteger(version) || version > ONNX_METADATA_VERSION) {
    throw new OnnxModelError(
      `${source}: genesis.format_version ${JSON.stringify(get("format_version"))} is not supported (this library reads ≤ ${ONNX_METADATA_VERSION})`,
    );
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(raw) as Record<string, unknown>;
  } catch (e) {
    throw new OnnxModelError(`${source}: genesis.metadata is not valid JSON (${(e as Error).message})`);
  }
  let metadata: ModelMetadata;
  try {
    // the record validated (and a pre-record metadata upgraded) as a model directory's would be
    metadata = upgradeMetadata(parsed, `${source} genesis.metadata`);
  } catch (e) {
    throw new OnnxModelError((e as Error).message);
  }
  const bn = get("bn_mode");
  if (bn !== "batch-statistics" && bn !== "running-statistics") {
    throw new OnnxModelError(
      `${source}: genesis.bn_mode must be batch-statistics or running-statistics, got ${JSON.stringify(bn)}`,
    );
  }
  return {
    metadata,
    graph: {
      graphBnMode: bn,
      inputLayout: get("input_layout") ?? "NDHWC",
      outputLayout: get("output_layout") ?? "NDHWC",
      inChannels: Number(get("in_channels") ?? 1),
    },
    preprocessing: metadata.preprocessing,
    formatVersion: version,
  };
}
