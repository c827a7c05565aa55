import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (packages/transforms/test → ../../..). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
/** The read-only shared data folder beside the repository. */
export const SHARED = process.env.GENESIS_SHARED_DIR ?? path.resolve(REPO_ROOT, "../shared");
export const HAS_SHARED = existsSync(SHARED);
