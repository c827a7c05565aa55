import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
/**
 * The PyTorch/Keras parity fixtures (5 MB), shipped in the repository: `fixtures/parity`, copied
 * byte for byte from the shared folder by `scripts/make-fixtures.mjs` (provenance and licence:
 * `fixtures/PROVENANCE.md`). A missing fixture is an error, never a skipped test.
 */
export const PARITY = path.join(repoRoot, "fixtures", "parity");
if (!existsSync(path.join(PARITY, "README.json")))
  throw new Error(
    `${PARITY}: parity fixtures missing (they ship with the repository: git checkout fixtures)`,
  );
/** Always true (see {@link PARITY}); kept so the `describe.skipIf(!hasParity)` blocks need no edit. */
export const hasParity = true;

/** Backends every numeric test runs on. */
export const BACKENDS = ["cpu", "wasm"] as const;

export async function useBackend(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend ${name} failed to initialise`);
  await tf.ready();
}

/** Minimal little-endian float32 `.npy` reader for the fixtures (C order, format 1.0/2.0). */
export function readNpyF32(file: string): { shape: number[]; data: Float32Array } {
  const buf = readFileSync(file);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLen).toString("latin1");
  if (!header.includes("'<f4'") || header.includes("'fortran_order': True")) {
    throw new Error(`${file}: expected C-ordered <f4, header ${header}`);
  }
  const shapeText = /'shape': \(([^)]*)\)/.exec(header)?.[1] ?? "";
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const bytes = buf.subarray(start + headerLen);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { shape, data };
}

/** Max |a − b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * An NCDHW fixture array with C = 1 as NDHWC: (N, 1, D0, D1, D2) → (N, D0, D1, D2, 1). With one
 * channel the memory order is the same, so only the shape changes.
 */
export function ncdhwToNdhwc(a: { shape: number[]; data: Float32Array }): {
  shape: number[];
  data: Float32Array;
} {
  const [n, c, d0, d1, d2] = a.shape;
  if (c !== 1) throw new Error("ncdhwToNdhwc: fixture helper expects one channel");
  return { shape: [n, d0, d1, d2, 1], data: a.data };
}
