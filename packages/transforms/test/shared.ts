import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (packages/transforms/test → ../../..). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
/** The read-only shared data folder beside the repository. */
export const SHARED = process.env.GENESIS_SHARED_DIR ?? path.resolve(REPO_ROOT, "../shared");
export const HAS_SHARED = existsSync(SHARED);

/** Bitwise equality of two typed arrays (fast; vitest's deep equality is slow on 10⁵ elements). */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0 && a.constructor === b.constructor
  );
}
