/**
 * The model's facts in an ONNX file's `metadata_props`, so another tool can use the file alone.
 * One writer ({@link onnxMetadataProps}) and one reader ({@link readOnnxMetadata}).
 */
import type { ModelMetadata } from "@models-genesis/models";
import type { PreprocessingRecord, Vec3 } from "@models-genesis/volume-io";

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

/** Preprocessing facts common to the record and the legacy fields. */
export interface OnnxPreprocessingFacts {
  modality: "CT" | "MRI" | null;
  /** Intensity window [lo, hi] in source units (HU for CT), scaled linearly to `range`; null = none. */
  window: [number, number] | null;
  range: [number, number] | null;
  /** Voxel spacing (mm, x/y/z) the model expects; null = the scan's own. */
  spacing: number[] | null;
  /** Input patch, x/y/z voxels; null when the metadata does not say. */
  patchSize: Vec3 | null;
  /** Where the facts come from: `preprocessing` (the record) or `legacy` (intensity/spacing/extra.patchSize). */
  source: "preprocessing" | "legacy";
}

function vec3(v: unknown): Vec3 | null {
  return Array.isArray(v) && v.length === 3 && v.every((d) => Number.isInteger(d) && d > 0)
    ? [v[0], v[1], v[2]]
    : null;
}

/**
 * The preprocessing facts of a model: `metadata.preprocessing` (a {@link PreprocessingRecord})
 * when present, else the legacy fields `intensity`, `spacing` and `extra.patchSize`.
 */
export function preprocessingFacts(metadata: ModelMetadata): OnnxPreprocessingFacts {
  const rec = (metadata as ModelMetadata & { preprocessing?: PreprocessingRecord | null }).preprocessing;
  if (rec) {
    return {
      modality: rec.modality,
      window: [...rec.window] as [number, number],
      range: [...rec.range] as [number, number],
      spacing: rec.spacing ? [...rec.spacing] : null,
      patchSize: vec3(rec.patchSize),
      source: "preprocessing",
    };
  }
  const i = metadata.intensity;
  return {
    modality: i?.modality ?? null,
    window: i ? ([...i.window] as [number, number]) : null,
    range: i ? ([...i.range] as [number, number]) : null,
    spacing: metadata.spacing ? [...metadata.spacing] : null,
    patchSize: vec3((metadata.extra as Record<string, unknown> | undefined)?.patchSize),
    source: "legacy",
  };
}

/**
 * `metadata_props` entries for a model: flat `genesis.*` keys another tool can read without our
 * code (values are strings; numbers and arrays are JSON), plus the whole {@link ModelMetadata} as
 * JSON under `genesis.metadata` so {@link readOnnxMetadata} gives it back unchanged.
 *
 * Keys: `format_version`, `variant` (torch|keras), `spatial_dims`, `width`, `in_channels`,
 * `output_kind` (segmentation|classification), `classes`, `activation`, `head` (JSON),
 * `bn_mode` (the graph's), `model_bn_mode`, `inference_bn_mode`, `input_layout`, `output_layout`,
 * `spatial_multiple`, `modality`, `intensity_window`, `intensity_range`, `spacing_mm`,
 * `patch_size` (x/y/z voxels), `preprocessing_source`, `preprocessing` (the record's JSON, when
 * the metadata has one), `metadata`.
 */
export function onnxMetadataProps(
  metadata: ModelMetadata,
  graph: OnnxGraphFacts,
): { key: string; value: string }[] {
  const p = preprocessingFacts(metadata);
  const rec = (metadata as ModelMetadata & { preprocessing?: PreprocessingRecord | null }).preprocessing;
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
    ["modality", p.modality ?? "unknown"],
    ["intensity_window", j(p.window)],
    ["intensity_range", j(p.range)],
    ["spacing_mm", j(p.spacing)],
    ["patch_size", j(p.patchSize)],
    ["preprocessing_source", p.source],
  ];
  if (rec) entries.push(["preprocessing", j(rec)]);
  entries.push(["metadata", j(metadata)]);
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
  let metadata: ModelMetadata;
  try {
    metadata = JSON.parse(raw) as ModelMetadata;
  } catch (e) {
    throw new OnnxModelError(`${source}: genesis.metadata is not valid JSON (${(e as Error).message})`);
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
    preprocessing: preprocessingFacts(metadata),
    formatVersion: version,
  };
}
