import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Options of {@link writeFileAtomic}. */
export interface WriteAtomicOptions {
  /** Create the parent folder (recursively) first; default false (a missing folder is an error). */
  mkdir?: boolean;
}

/**
 * Write `data` to `path` atomically: the bytes go to a hidden temporary file beside `path`
 * (`.<name>.tmp-<pid>-<hex>`), which is fsynced and renamed over `path`; then the folder is fsynced.
 * A crash (kill -9, power loss) leaves either the old file or the new one, never a torn file; a
 * stray `.*.tmp-*` file may remain and is ignored. This is the one implementation every package
 * uses (volumes, arrays, checkpoints, models, results, PNG sheets).
 *
 * @param data bytes, UTF-8 text, or a list of such chunks written in order.
 * @throws the file-system error (ENOENT, EACCES, …) when the file cannot be written; the
 *   temporary file is removed first.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string | ReadonlyArray<Uint8Array | string>,
  options: WriteAtomicOptions = {},
): Promise<void> {
  const dir = dirname(path);
  if (options.mkdir) await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  const chunks = typeof data === "string" || data instanceof Uint8Array ? [data] : data;
  try {
    const fh = await open(tmp, "w");
    try {
      for (const c of chunks) await fh.write(typeof c === "string" ? Buffer.from(c, "utf8") : c);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  try {
    const dh = await open(dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // directory fsync is not supported everywhere (e.g. some network file systems); the rename stands
  }
}
