/** `--irregular-slices`: a DICOM series with a missing slice is refused by default and resampled on request. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ctSlice } from "../../../packages/volume-io/test/dicom-writer.js";
import { genesis } from "./run-cli.js";

const root = mkdtempSync(join(tmpdir(), "cli-irregular-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Slices 2.5 mm apart with the one at z = 10 missing. */
function gapSeries(): string {
  const dir = join(root, "gap");
  mkdirSync(dir);
  for (const [i, z] of [0, 2.5, 5, 7.5, 12.5, 15].entries())
    writeFileSync(join(dir, `${i}.dcm`), ctSlice({ ipp: [0, 0, z], instance: i + 1 }));
  return dir;
}

describe("genesis info --irregular-slices", () => {
  const dir = gapSeries();

  it("refuses the series by default, naming the gap and the option", async () => {
    const r = await genesis("info", dir, "--json");
    expect(r.code).not.toBe(0);
    expect(r.out).toBe("");
    expect(r.err).toContain(`genesis: ${dir}: irregular slice positions: 6 slices, median gap 2.5 mm`);
    expect(r.err).toContain("5 mm between 7.5 and 12.5");
    expect(r.err).toContain("--irregular-slices resample");
  });

  it("resample: 7 slices at 2.5 mm, with a warning on stderr", async () => {
    const r = await genesis("info", dir, "--json", "--irregular-slices", "resample");
    expect(r.code).toBe(0);
    const info = JSON.parse(r.out);
    expect(info.shape).toEqual([4, 3, 7]);
    expect(info.spacing[2]).toBeCloseTo(2.5, 10);
    expect(r.err).toMatch(
      /^genesis: warning: .*irregular slice positions resampled: 6 slices.*→ 7 slices 2\.5 mm apart/,
    );
  });

  it("an unknown mode is refused", async () => {
    const r = await genesis("info", dir, "--irregular-slices", "ignore");
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('--irregular-slices must be error or resample, got "ignore"');
  });
});
