import { createHash } from "node:crypto";

/**
 * Canonical JSON: object keys sorted at every level, `undefined` members left out, no whitespace.
 * Two values that mean the same serialise to the same string, so hashes of it are content ids.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value))
      throw new Error(`canonicalJson: non-finite number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

/** Hex SHA-256 of a string (UTF-8). */
export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/**
 * The seed of one cell: the first 31 bits of SHA-256(`genesis-grid-seed/<gridSeed>/<task>/<init>/<run>`),
 * an integer in [0, 2³¹). Derived, not drawn, so the same grid seed gives every cell the same seed
 * on any machine, and a rerun of one cell reproduces it.
 */
export function cellSeed(gridSeed: number, task: string, init: string, run: number): number {
  const h = createHash("sha256")
    .update(`genesis-grid-seed/${gridSeed}/${task}/${init}/${run}`, "utf8")
    .digest();
  return h.readUInt32BE(0) >>> 1;
}

/** Length in hex digits of a cell id (64 bits of SHA-256: collisions are out of reach for any grid). */
export const CELL_ID_HEX = 16;

/** Pattern every cell id matches (used to validate ids before they become file names). */
export const CELL_ID_PATTERN = /^[0-9a-f]{16}$/;

/** The content-derived id of a cell: the first {@link CELL_ID_HEX} hex digits of SHA-256 of its canonical JSON. */
export function contentId(content: unknown): string {
  return sha256Hex(canonicalJson(content)).slice(0, CELL_ID_HEX);
}
