import { readFile } from "node:fs/promises";
import { writeFileAtomic as writeAtomic } from "@models-genesis/volume-io";
import { parse } from "csv-parse/sync";
import { DatasetError } from "./errors.js";

/**
 * Write `data` to `path` atomically, creating its folder first: `writeFileAtomic` of
 * `@models-genesis/volume-io` (temp file + fsync + rename), so a reader never sees a half-written
 * file (also after `kill -9`).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await writeAtomic(path, data, { mkdir: true });
}

/**
 * Read a CSV file with a header row into records keyed by column name.
 *
 * @param required columns that must be present in the header.
 * @throws DatasetError when the file cannot be read or parsed, or a required column is missing.
 */
export async function readCsv(
  path: string,
  required: readonly string[] = [],
): Promise<Record<string, string>[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new DatasetError(path, `cannot read CSV (${(err as Error).message})`);
  }
  let rows: Record<string, string>[];
  try {
    rows = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true });
  } catch (err) {
    throw new DatasetError(path, `not a valid CSV (${(err as Error).message})`);
  }
  const header = text
    .split(/\r?\n/, 1)[0]
    .replace(/^\uFEFF/, "")
    .split(",")
    .map((s) => s.trim());
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw new DatasetError(path, `missing column(s) ${missing.join(", ")} (header: ${header.join(",")})`);
  }
  return rows;
}

/** Parse a finite number from a CSV cell. @throws DatasetError naming the file, row and column. */
export function csvNumber(
  path: string,
  row: Record<string, string>,
  column: string,
  rowIndex: number,
): number {
  const v = Number(row[column]);
  if (row[column] === undefined || row[column] === "" || !Number.isFinite(v)) {
    throw new DatasetError(
      path,
      `row ${rowIndex + 2}: column ${column} is not a number (${JSON.stringify(row[column])})`,
    );
  }
  return v;
}

/** Quote a CSV cell when it needs it (RFC 4180). */
function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Write records as a CSV with the given column order, atomically. */
export async function writeCsv(
  path: string,
  columns: readonly string[],
  rows: readonly Record<string, string | number>[],
): Promise<void> {
  const lines = [columns.join(",")];
  for (const r of rows) lines.push(columns.map((c) => csvCell(r[c] ?? "")).join(","));
  await writeFileAtomic(path, `${lines.join("\n")}\n`);
}
