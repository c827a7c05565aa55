import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readNpy } from "@models-genesis/volume-io";
import { describe, expect, it } from "vitest";
import { extractScanCubes } from "../src/cell-runner.js";
import { planCubes, validateCubesCell, writeCubesManifest } from "../src/cubes-jobs.js";
import { contentId } from "../src/ids.js";
import { runLocal } from "../src/local.js";
import { pending, readResults } from "../src/results.js";

// the bundled real chest CTs (64×64 in-plane, 4–7 mm): small borders and cubes, as the demo uses them
const chest = resolve(import.meta.dirname, "../../../apps/cli/sample/chest-ct");
const options = {
  scale: 4,
  borderXY: 4,
  borderZ: 2,
  lungMax: 0.5,
  patchSize: [32, 32, 16] as [number, number, number],
};

describe("genesis cubes as jobs (a job per scan, shards + manifest)", () => {
  it("extracts every scan on 2 processes; shards equal a direct extraction; the manifest lists them; a restart runs nothing", async () => {
    const out = mkdtempSync(join(tmpdir(), "grid-cubes-"));
    const plan = await planCubes({ inputs: [chest], seed: 1, options });
    expect(plan.cells.map((c) => c.scan.split("/").pop())).toEqual([
      "copdgene_10002K_ct64.nii.gz",
      "copdgene_testinput.nii.gz",
    ]);
    const results = await runLocal(out, plan.cells, { workers: 2 });
    expect(results.every((r) => r.status === "done")).toBe(true);
    const { manifest, missing } = await writeCubesManifest(out, plan, await readResults(out));
    expect(missing).toBe(0);
    expect(manifest.shards).toHaveLength(2);
    let total = 0;
    for (const [k, s] of manifest.shards.entries()) {
      const shard = await readNpy(join(out, s.file));
      expect(shard.shape).toEqual([s.cubes, 32, 32, 16]);
      total += s.cubes;
      // the same scan and seed outside the grid: the same cubes
      const direct = join(out, `direct-${k}.npy`);
      await extractScanCubes(s.scan, s.seed, options, direct);
      expect(readFileSync(direct).equals(readFileSync(join(out, s.file)))).toBe(true);
      // values in [0, 1] (HU window [-1000, 1000])
      const d = shard.data as Float32Array;
      expect(Math.min(...d.subarray(0, 4096))).toBeGreaterThanOrEqual(0);
      expect(Math.max(...d.subarray(0, 4096))).toBeLessThanOrEqual(1);
    }
    expect(total).toBeGreaterThan(0);
    expect(manifest.cubes).toBe(total);
    expect(JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"))).toEqual(manifest);
    expect(await pending(out, plan.cells)).toEqual([]);
    // a scan's seed depends on the corpus seed and its own path only, not on the other scans
    const alone = await planCubes({ inputs: [plan.cells[1].scan], seed: 1, options });
    expect(alone.cells[0].seed).toBe(plan.cells[1].seed);
    expect((await planCubes({ inputs: [chest], seed: 2, options })).cells[1].seed).not.toBe(
      plan.cells[1].seed,
    );
    expect((await planCubes({ inputs: [chest], seed: 1, options })).cells).toEqual(plan.cells);
  });

  it("rejects a forged cubes job: ../ scan, outside the roots, bad options, wrong id", async () => {
    const plan = await planCubes({ inputs: [chest], seed: 1, options });
    const ok = plan.cells[0];
    expect(validateCubesCell(ok, [chest]).id).toBe(ok.id);
    const forge = (patch: Record<string, unknown>) => {
      const { id: _id, ...c } = { ...ok, ...patch };
      return { id: contentId(c), ...c };
    };
    expect(() => validateCubesCell(forge({ scan: `${chest}/../../../../etc/passwd` }), [chest])).toThrow(
      /contains a \.\.\/ segment/,
    );
    expect(() => validateCubesCell(forge({ scan: "/etc/passwd" }), [chest])).toThrow(
      /outside the data roots/,
    );
    expect(() => validateCubesCell(forge({ options: { ...options, scale: 1e9 } }), [chest])).toThrow(
      /options.scale/,
    );
    expect(() => validateCubesCell({ ...ok, seed: 5 }, [chest])).toThrow(/does not match the job's content/);
  });
});
