import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The shared real-data folder: `$GENESIS_SHARED_DIR` or `<repo root>/../shared`. */
export const SHARED = process.env.GENESIS_SHARED_DIR ?? resolve(__dirname, "../../../../shared");
export const DATA = join(SHARED, "data");
export const HAS_SHARED = existsSync(join(DATA, "MANIFEST.md"));

/** The repository root (packages/datasets/test → ../../..). */
export const REPO_ROOT = resolve(__dirname, "../../..");

let bundled: string | undefined;
/**
 * Data shipped with the repository, laid out as in the shared `data/` folder (links, made once per
 * test file in a temporary folder removed at exit): `ct/chest_copdgene_cip_ct64/ct.nii.gz` (the same
 * bytes as `apps/cli/sample/chest-ct/copdgene_10002K_ct64.nii.gz`) and `ct/lidc_nodule_vois/{image,mask}`
 * (the 212 VOIs of `apps/cli/sample/lidc-voi`) with their rows of `nodules.csv` (`fixtures/lidc`).
 */
export function bundledData(): string {
  if (bundled) return bundled;
  const root = mkdtempSync(join(tmpdir(), "genesis-datasets-bundled-"));
  process.on("exit", () => rmSync(root, { recursive: true, force: true }));
  const data = join(root, "data");
  const sample = join(REPO_ROOT, "apps/cli/sample");
  mkdirSync(join(data, "ct/chest_copdgene_cip_ct64"), { recursive: true });
  symlinkSync(
    join(sample, "chest-ct/copdgene_10002K_ct64.nii.gz"),
    join(data, "ct/chest_copdgene_cip_ct64/ct.nii.gz"),
  );
  const vois = join(data, "ct/lidc_nodule_vois");
  mkdirSync(vois);
  for (const sub of ["image", "mask"]) symlinkSync(join(sample, "lidc-voi", sub), join(vois, sub));
  symlinkSync(join(REPO_ROOT, "fixtures/lidc/nodules.csv"), join(vois, "nodules.csv"));
  bundled = data;
  return data;
}

/** A fresh temporary folder removed after `fn`. */
export async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "genesis-datasets-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
