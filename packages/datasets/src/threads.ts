/**
 * The `--threads` value of the command lines that train (the target-task apps of
 * `@models-genesis/tasks`, `genesis pretrain`). It lives here, beside nothing else of its kind,
 * because both of those import it from this package; `resolveThreads` of `@models-genesis/train`
 * turns `auto` into a count.
 */

/**
 * Parse `--threads`: `auto` or a positive integer.
 * @throws Error naming the bad value.
 */
export function parseThreads(value: string): number | "auto" {
  if (value === "auto") return "auto";
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--threads: "${value}" is neither auto nor a positive integer`);
  return n;
}
