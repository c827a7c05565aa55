import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { probeOnnxRuntime } from "../src/index.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
/**
 * The PyTorch/Keras parity fixtures shipped in the repository (`fixtures/parity`, provenance in
 * `fixtures/PROVENANCE.md`), the same files `packages/models/test/parity.test.ts` uses. A missing
 * fixture is an error, never a skipped test.
 */
export const PARITY = path.join(repoRoot, "fixtures", "parity");
if (!existsSync(path.join(PARITY, "README.json")))
  throw new Error(
    `${PARITY}: parity fixtures missing (they ship with the repository: git checkout fixtures)`,
  );

/** Why ONNX Runtime tests skip (null: onnxruntime-node loads). */
const probe = await probeOnnxRuntime();
export const ortSkip: string | null = probe.ok ? null : probe.reason;

export async function useBackend(name: string): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} failed to initialise`);
  await tf.ready();
}

/** Minimal little-endian float32 `.npy` reader (C order). */
export function readNpyF32(file: string): { shape: number[]; data: Float32Array } {
  const buf = readFileSync(file);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLen).toString("latin1");
  if (!header.includes("'<f4'") || header.includes("'fortran_order': True"))
    throw new Error(`${file}: expected C-ordered <f4, header ${header}`);
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const bytes = buf.subarray(start + headerLen);
  return {
    shape,
    data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)),
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
