import { access, rm, symlink } from "node:fs/promises";
import { DatasetError } from "@models-genesis/datasets";

/**
 * Sample layouts: real data from the shared test-data folder (`MANIFEST.md` there) arranged in each
 * public dataset's own structure, so that the apps' native readers run end to end here. Each task
 * folder's `sample.ts` builds its layout and states its rule in `SAMPLE_LAYOUT.md` inside the layout
 * it writes. Demo fixtures: used by the preparations when `--data` is absent, not exported from the
 * package.
 */

/** True when `p` exists. */
export async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/** @throws DatasetError naming `p` when it does not exist. */
export async function need(p: string): Promise<void> {
  if (!(await exists(p)))
    throw new DatasetError(p, "sample data not found (is the shared data folder beside the repository?)");
}

/** Symlink `path` → `target`, replacing a file already at `path`. */
export async function link(target: string, path: string): Promise<void> {
  await rm(path, { force: true });
  await symlink(target, path);
}
