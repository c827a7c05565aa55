import { chmodSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { assertWritableDir, TrainError } from "../src/index.js";

const root = process.getuid?.() === 0;

describe("assertWritableDir", () => {
  it("creates missing folders (parents first) and leaves no probe file", () => {
    const base = mkdtempSync(join(tmpdir(), "out-"));
    const dir = join(base, "a", "b");
    assertWritableDir(dir, "--out");
    expect(existsSync(dir)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("names a file given as the folder", () => {
    const base = mkdtempSync(join(tmpdir(), "out-"));
    const f = join(base, "f");
    writeFileSync(f, "x");
    expect(() => assertWritableDir(f, "--out")).toThrow(
      new TrainError(`--out ${f}: exists and is not a folder; give a folder (it is created if missing)`),
    );
  });

  // root writes through permission bits: there /sys (read-only to everyone) stands in for a read-only folder
  it("names a folder that is not writable, and one that cannot be created, in one line", () => {
    let ro = "/sys";
    if (!root) {
      ro = mkdtempSync(join(tmpdir(), "ro-"));
      chmodSync(ro, 0o555);
    }
    expect(() => assertWritableDir(ro, "--out")).toThrow(
      new RegExp(`^--out ${ro}: the folder is not writable \\((EACCES|EPERM|EROFS)[^\\n]*\\)$`),
    );
    const sub = join(ro, "run");
    expect(() => assertWritableDir(sub, "--out")).toThrow(
      new RegExp(`^--out ${sub}: cannot create the folder ${sub} \\((EACCES|EPERM|EROFS|ENOENT)[^\\n]*\\)$`),
    );
  });
});
