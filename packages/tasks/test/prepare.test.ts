import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseThreads } from "@models-genesis/datasets";
import { describe, expect, it } from "vitest";
import { checkAppOptions, type FinetuneRequest, parseInits, runTaskRuns } from "../src/app.js";
import { prepareLcs } from "../src/lcs/prepare.js";
import { resolveUserPath } from "../src/main.js";
import { prepareNcs } from "../src/ncs/prepare.js";
import { bundledData, DATA, HAS_SHARED, withTmp } from "./shared.js";

describe("app options", () => {
  it("resolves command-line paths against the folder the user typed the command in (INIT_CWD)", () => {
    const before = process.env.INIT_CWD;
    try {
      process.env.INIT_CWD = "/home/user/project";
      expect(resolveUserPath("apps/cli/sample/lidc-voi")).toBe("/home/user/project/apps/cli/sample/lidc-voi");
      expect(resolveUserPath("/data/lidc")).toBe("/data/lidc");
      delete process.env.INIT_CWD;
      expect(resolveUserPath("out")).toBe(join(process.cwd(), "out"));
    } finally {
      if (before === undefined) delete process.env.INIT_CWD;
      else process.env.INIT_CWD = before;
    }
  });

  it("names both NCS layouts when --data holds neither", async () => {
    await withTmp(async (dir) => {
      await expect(prepareNcs({ data: dir, out: join(dir, "out"), quick: true, seed: 0 })).rejects.toThrow(
        /not an NCS dataset: expected the reference arrays x_\{train,valid,test\}_64x64x32\.npy.*or image\/ and mask\//,
      );
    });
  });

  it("parses --threads", () => {
    expect(parseThreads("auto")).toBe("auto");
    expect(parseThreads("3")).toBe(3);
    expect(() => parseThreads("0")).toThrow(/--threads: "0"/);
    expect(() => parseThreads("two")).toThrow(/neither auto nor a positive integer/);
  });
  it("parses and checks initialisations", () => {
    expect(parseInits("scratch,genesis")).toEqual(["scratch", "genesis"]);
    expect(() => parseInits("imagenet")).toThrow(/unknown initialisation "imagenet"/);
    expect(() => checkAppOptions({ out: "o", quick: true, runs: 1, init: ["genesis"], seed: 0 })).toThrow(
      /needs --weights/,
    );
    expect(() => checkAppOptions({ out: "o", quick: true, runs: 0, init: ["scratch"], seed: 0 })).toThrow(
      /--runs/,
    );
    // 2-D: scratch-2d needs nothing, genesis-2d a 2-D model directory (not --weights)
    expect(parseInits("scratch-2d, genesis-2d,scratch-2d")).toEqual(["scratch-2d", "genesis-2d"]);
    expect(() => parseInits("official-2d")).toThrow(/scratch, genesis, official, scratch-2d, genesis-2d/);
    expect(() =>
      checkAppOptions({ out: "o", quick: true, runs: 1, init: ["scratch-2d"], seed: 0 }),
    ).not.toThrow();
    expect(() =>
      checkAppOptions({ out: "o", quick: true, runs: 1, init: ["genesis-2d"], weights: "w.pt", seed: 0 }),
    ).toThrow(/--init genesis-2d needs --weights-2d DIR/);
  });
});

describe("task preparation on the sample layouts (quick)", () => {
  it.skipIf(!HAS_SHARED)(
    "LCS: patches (needs ../shared: the TotalSegmentator abdomen CT is not shipped)",
    async () => {
      await withTmp(async (out) => {
        const lcs = await prepareLcs({ sampleData: DATA, out: join(out, "lcs"), quick: true, seed: 0 });
        expect(lcs.folds[0].train.xShape).toEqual([8, 64, 64, 32, 1]); // volume-0 only, 8 patches in quick mode
        // volume-100 (122×101 in-plane) scaled by the record's [0.5, 0.5, 1] fits one 64×64×32 window
        expect(lcs.folds[0].val.xShape[0]).toBe(1);
        expect(lcs.preprocessing).toMatchObject({
          modality: "CT",
          resize: [0.5, 0.5, 1],
          patchSize: [64, 64, 32],
        });
      });
    },
  );

  it("NCS (the VOIs shipped in apps/cli/sample): patient-level split, cubes and masks; runTaskRuns loops init × run × fold and writes results", async () => {
    await withTmp(async (out) => {
      const ncs = await prepareNcs({
        sampleData: bundledData(),
        out: join(out, "ncs"),
        quick: true,
        seed: 0,
        sampleLimit: 20,
      });
      const n = ncs.folds[0];
      expect(n.train.yShape).toEqual(n.train.xShape);
      expect(n.train.xShape[0] + n.val.xShape[0] + n.test.xShape[0]).toBeGreaterThanOrEqual(20);
      const patients = (ids: string[]) => new Set(ids.map((i) => i.slice(0, 14)));
      for (const p of patients(n.test.ids)) expect(patients(n.train.ids).has(p)).toBe(false);

      // the app loop: every init × run × fold is called once; results written (3 folds as for ECC)
      const calls: FinetuneRequest[] = [];
      const cv = { ...ncs, folds: [n, n, n] };
      const res = await runTaskRuns(
        { out: join(out, "ecc"), quick: true, runs: 2, init: ["scratch"], seed: 7 },
        cv,
        async (req) => {
          calls.push(req);
          return { value: 0.5 + 0.1 * req.fold, metrics: { accuracy: 0.25 } };
        },
        () => {},
      );
      expect(calls.map((c) => [c.run, c.fold, c.seed])).toEqual([
        [0, 0, 7],
        [0, 1, 7],
        [0, 2, 7],
        [1, 0, 8],
        [1, 1, 8],
        [1, 2, 8],
      ]);
      expect(calls[4].modelDir).toBe(join(out, "ecc", "model", "scratch-run1-fold1"));
      expect(res.runs.scratch.values.map((v) => Number(v.toFixed(12)))).toEqual([0.6, 0.6]);
      expect(res.runs.scratch.extra?.accuracy.mean).toBe(0.25);
      expect(JSON.parse(await readFile(join(out, "ecc", "results.json"), "utf8")).metric).toBe("IoU (paper)");
      // a failing later run leaves the completed runs in results.json
      const partial = join(out, "partial");
      await expect(
        runTaskRuns(
          { out: partial, quick: true, runs: 2, init: ["scratch"], seed: 0 },
          ncs,
          async (req) => {
            if (req.run === 1) throw new Error("out of memory");
            return { value: 0.75 };
          },
          () => {},
        ),
      ).rejects.toThrow(/out of memory/);
      expect(JSON.parse(await readFile(join(partial, "results.json"), "utf8")).runs.scratch.values).toEqual([
        0.75,
      ]);
    });
  });
});
