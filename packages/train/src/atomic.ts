/**
 * Atomic file writes (temp file + fsync + rename + folder fsync): the one implementation lives in
 * `@models-genesis/volume-io`; re-exported here so `writeFileAtomic` stays part of this package's API.
 */
export { writeFileAtomic } from "@models-genesis/volume-io";
