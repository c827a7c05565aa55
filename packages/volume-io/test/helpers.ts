import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { affineOf, identity3, type Vec3, type Volume, type VoxelArray } from "../src/index.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
/** The read-only shared data folder (`../shared` beside the repository, or $GENESIS_SHARED_DIR). */
export const SHARED = process.env.GENESIS_SHARED_DIR ?? resolve(repoRoot, "../shared");
export const DATA = resolve(SHARED, "data");
export const HAVE_SHARED = existsSync(resolve(DATA, "manifest.json"));
/**
 * The few files of `DATA` shipped with the repository, at the same relative paths
 * (`formats/generated_from_real_ct/…`, `formats/dicom/pydicom/…`; see fixtures/PROVENANCE.md).
 */
export const FIXTURES = resolve(repoRoot, "fixtures/volume-io");

export interface ManifestEntry {
  path: string;
  format?: string;
  shape?: number[];
  spacing?: number[] | null;
  dtype?: string;
  disk_dtype?: string;
  min?: number;
  max?: number;
  modality?: string;
  n_files?: number | string;
  files?: { name: string; shape: number[]; spacing: number[]; min: number; max: number }[];
}

export function manifest(): ManifestEntry[] {
  return JSON.parse(readFileSync(resolve(DATA, "manifest.json"), "utf8"));
}

/** Value of voxel (x, y, z, c) of a volume (C order over x, y, z, c). */
export function voxel(v: Volume, x: number, y: number, z: number, c = 0): number {
  const [, ny, nz] = v.shape;
  return (v.data as ArrayLike<number>)[((x * ny + y) * nz + z) * v.channels + c];
}

export function closeTo(a: number, b: number, rel = 1e-6, abs = 1e-6): boolean {
  return Math.abs(a - b) <= abs + rel * Math.abs(b);
}

/** A single-channel intensity volume with unit spacing, zero origin and identity direction; `opts` override. */
export function vol(data: VoxelArray, shape: Vec3, opts: Partial<Volume> = {}): Volume {
  return {
    data,
    shape,
    channels: 1,
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: identity3(),
    kind: "intensity",
    meta: {},
    ...opts,
  };
}

/** World position (mm) of the continuous voxel index (x, y, z). */
export function world(v: Volume, x: number, y: number, z: number): number[] {
  const a = affineOf(v);
  return [0, 1, 2].map((r) => a[r][0] * x + a[r][1] * y + a[r][2] * z + a[r][3]);
}
