import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The shared real-data folder: `$GENESIS_SHARED_DIR` or `<repo root>/../shared`. */
export const SHARED = process.env.GENESIS_SHARED_DIR ?? resolve(__dirname, "../../../../shared");
export const DATA = join(SHARED, "data");
export const HAS_SHARED = existsSync(join(DATA, "MANIFEST.md"));

/** A fresh temporary folder removed after `fn`. */
export async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "genesis-datasets-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
