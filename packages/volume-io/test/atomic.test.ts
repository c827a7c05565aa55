import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../src/index.js";

describe("writeFileAtomic", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "atomic-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes bytes, UTF-8 text and chunk lists in order, replacing an existing file, leaving no temp file", async () => {
    const f = join(dir, "a.bin");
    writeFileSync(f, "old contents that are longer");
    await writeFileAtomic(f, Uint8Array.of(1, 2, 255));
    expect([...readFileSync(f)]).toEqual([1, 2, 255]);
    await writeFileAtomic(f, "µm\n");
    expect(readFileSync(f, "utf8")).toBe("µm\n");
    await writeFileAtomic(f, ["a", Uint8Array.of(0x42), "ç"]);
    expect(readFileSync(f, "utf8")).toBe("aBç");
    expect(readdirSync(dir)).toEqual(["a.bin"]);
  });

  it("fails for a missing folder unless mkdir is set, and leaves no temp file", async () => {
    const f = join(dir, "sub", "deeper", "b.txt");
    await expect(writeFileAtomic(f, "x")).rejects.toMatchObject({ code: "ENOENT" });
    expect(existsSync(join(dir, "sub"))).toBe(false);
    await writeFileAtomic(f, "x", { mkdir: true });
    expect(readFileSync(f, "utf8")).toBe("x");
    expect(readdirSync(join(dir, "sub", "deeper"))).toEqual(["b.txt"]);
  });
});
