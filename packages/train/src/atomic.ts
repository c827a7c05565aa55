import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Write `chunks` to `path` atomically: write a temp file beside it, fsync, rename over `path`, fsync
 * the directory. A crash (kill -9, power loss) leaves either the old file or the new one, never a
 * torn file; a stray `*.tmp-*` file may remain and is ignored.
 */
export async function writeFileAtomic(path: string, chunks: Array<Uint8Array | string>): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  const fh = await open(tmp, "w");
  try {
    for (const c of chunks) await fh.write(typeof c === "string" ? Buffer.from(c, "utf8") : c);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  try {
    const dh = await open(dirname(path), "r");
    await dh.sync();
    await dh.close();
  } catch {
    // directory fsync is not supported everywhere (e.g. some network file systems); the rename stands
  }
}
