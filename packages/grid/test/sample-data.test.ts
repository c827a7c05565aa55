import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { gridProgram } from "../src/local.js";

describe("sample data of cells planned without --data", () => {
  it("is found from the package's own location, not the working directory (run from another folder)", () => {
    const elsewhere = mkdtempSync(join(tmpdir(), "grid-cwd-"));
    const index = join(gridProgram("child"), "../index.js");
    const script = `import(${JSON.stringify(index)}).then((m) => { try { console.log("found " + m.sampleDataRoot()); } catch (e) { console.log("error " + e.message); } });`;
    const env = { ...process.env };
    delete env.GENESIS_SHARED_DIR;
    const out = execFileSync(process.execPath, ["-e", script], { cwd: elsewhere, env, encoding: "utf8" });
    // the repository's ../shared/data: returned where it exists, else named among the folders tried
    // (before: "no sample data found (tried nothing)" from a folder outside the repository)
    const shared = resolve(import.meta.dirname, "../../../../shared/data");
    expect(out).toContain(shared);
    expect(out).not.toContain("tried nothing");
  });
});
