import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { loadVolume, writeMetaImage, writeNcsArrays } from "@models-genesis/datasets";
import { describe, expect, it } from "vitest";
import { prepareBms } from "../src/bms/prepare.js";
import { prepareEcc } from "../src/ecc/prepare.js";
import { prepareLcs } from "../src/lcs/prepare.js";
import { prepareNcc } from "../src/ncc/prepare.js";
import { prepareNcs } from "../src/ncs/prepare.js";
import { withTmp } from "./shared.js";

/** The LIDC VOI sample bundled with the repository (212 VOIs of 105 patients; image/ + mask/). */
const BUNDLED = resolve(__dirname, "../../../apps/cli/sample/lidc-voi");

describe("--quick on --data", () => {
  it("NCS: --quick --data keeps 40 VOIs (whole patients, seeded) of the 212 and logs it", async () => {
    await withTmp(async (dir) => {
      const lines: string[] = [];
      const p = await prepareNcs({
        data: BUNDLED,
        out: dir,
        quick: true,
        seed: 0,
        log: (l) => lines.push(l),
      });
      const n = p.folds[0].train.ids.length + p.folds[0].val.ids.length + p.folds[0].test.ids.length;
      expect(n).toBe(40);
      expect(lines[0]).toBe(
        "--quick: kept 40 of 212 volumes (22 of 105 patients) of --data, drawn with seed 0",
      );
      expect(lines[0]).toContain(`kept ${n} of 212`);
      expect(p.notes.cases).toBe(n);
      // without --quick every VOI is used
      const full = await prepareNcs({ data: BUNDLED, out: join(dir, "full"), quick: false, seed: 0 });
      expect(full.notes.cases).toBe(212);
    });
  });

  it("NCS reference arrays: --quick --data keeps a seeded share of cubes per part (here 6 of 12 with sampleLimit 6)", async () => {
    await withTmp(async (dir) => {
      const per = 64 * 64 * 32;
      const part = (n: number, tag: number) => {
        const x = new Float32Array(n * per);
        for (let i = 0; i < n; i++) x[i * per] = tag + i / 100; // first voxel tells the cube apart
        return {
          x,
          xShape: [n, 64, 64, 32, 1],
          y: new Float32Array(n * per),
          yShape: [n, 64, 64, 32, 1],
          ids: [],
        };
      };
      await writeNcsArrays(dir, "train", part(8, 0) as never);
      await writeNcsArrays(dir, "valid", part(2, 0.2) as never);
      await writeNcsArrays(dir, "test", part(2, 0.4) as never);
      const lines: string[] = [];
      const p = await prepareNcs({
        data: dir,
        out: join(dir, "out"),
        quick: true,
        seed: 0,
        sampleLimit: 6,
        log: (l) => lines.push(l),
      });
      expect(lines[0]).toBe("--quick: kept 6 of 12 cubes of --data, drawn with seed 0");
      const f = p.folds[0];
      // quotas round(6·8/12) = 4, round(6·2/12) = 1, 1
      expect([f.train.xShape[0], f.val.xShape[0], f.test.xShape[0]]).toEqual([4, 1, 1]);
      expect(f.train.x.length).toBe(4 * per);
      // each kept cube is the one its id names
      for (const [k, id] of f.train.ids.entries())
        expect(f.train.x[k * per]).toBeCloseTo(Number(id.split(":")[1]) / 100, 6);
      expect(f.val.x[0]).toBeCloseTo(0.2 + Number(f.val.ids[0].split(":")[1]) / 100, 6);
    });
  });

  it("ECC: --quick --data keeps 4 volumes, those with positives in proportion", async () => {
    await withTmp(async (dir) => {
      const data = join(dir, "data");
      await mkdir(data, { recursive: true });
      // ten volumes (bundled VOIs), one positive + one negative candidate in each of the first six
      const vois = (await readdir(join(BUNDLED, "image"))).sort().slice(0, 10);
      const rows = ["volume,coordX,coordY,coordZ,label"];
      for (const [v, name] of vois.entries()) {
        await copyFile(join(BUNDLED, "image", name), join(data, name));
        rows.push(`${name},0,0,0,${v < 6 ? 1 : 0}`, `${name},1,1,1,0`);
      }
      await writeFile(join(data, "candidates.csv"), `${rows.join("\n")}\n`);
      const lines: string[] = [];
      const p = await prepareEcc({
        data,
        out: join(dir, "out"),
        quick: true,
        seed: 0,
        log: (l) => lines.push(l),
      });
      expect(lines[0]).toBe("--quick: kept 4 of 10 volumes of --data, drawn with seed 0");
      expect(p.notes.volumes).toBe(4);
      expect(p.notes.candidates).toBe(8);
      expect(p.preprocessing).toMatchObject({
        modality: "CT",
        window: [-1000, 1000],
        patchSize: [64, 64, 64],
      });
    });
  });

  it("BMS: --quick --data keeps about 6 whole cases shared over the fold files, at least one validating", async () => {
    await withTmp(async (dir) => {
      const data = join(dir, "data");
      const vois = (await readdir(join(BUNDLED, "image"))).sort().slice(0, 12);
      const ids: string[] = [];
      for (const [k, name] of vois.entries()) {
        const id = `Brats18_X_${k}_1`;
        ids.push(id);
        await mkdir(join(data, id), { recursive: true });
        await copyFile(join(BUNDLED, "image", name), join(data, id, `${id}_flair.nii.gz`));
        await copyFile(join(BUNDLED, "mask", name), join(data, id, `${id}_seg.nii.gz`));
      }
      await mkdir(join(data, "folds"));
      await writeFile(join(data, "folds/fold_1.csv"), ids.slice(0, 6).join("\n"));
      await writeFile(join(data, "folds/fold_2.csv"), ids.slice(6, 9).join("\n"));
      await writeFile(join(data, "folds/fold_3.csv"), ids.slice(9).join("\n"));
      const lines: string[] = [];
      const p = await prepareBms({
        data,
        out: join(dir, "out"),
        quick: true,
        seed: 0,
        windowsPerCase: 1,
        log: (l) => lines.push(l),
      });
      // quotas round(6·6/12) = 3, round(1.5) = 2, 2 cases of folds 1, 2, 3
      expect(lines[0]).toBe("--quick: kept 7 of 12 cases of --data, drawn with seed 0");
      const splits = JSON.parse(await readFile(join(dir, "out/splits.json"), "utf8")).folds[0];
      expect([splits.train.length, splits.val.length, splits.test.length]).toEqual([4, 1, 2]);
      const kept = [...splits.train, ...splits.val, ...splits.test];
      expect(new Set(kept).size).toBe(7);
      expect(kept.filter((id: string) => ids.slice(9).includes(id))).toEqual(splits.test);
      expect(p.folds[0].val.ids.length).toBeGreaterThan(0);
      // --data: the reference MRI window, the crop resized to the patch
      expect(p.preprocessing).toMatchObject({
        modality: "MRI",
        window: [0, 4000],
        crop: [100, 100, 50],
        patchSize: [64, 64, 32],
      });
      expect(p.folds[0].train.xShape.slice(1)).toEqual([64, 64, 32, 1]);
    });
  });

  it("LCS: --quick --data keeps 4 cases shared over the case-number parts", async () => {
    await withTmp(async (dir) => {
      const data = join(dir, "data");
      await mkdir(data);
      const vois = (await readdir(join(BUNDLED, "image"))).sort().slice(0, 20);
      const numbers = [...Array(10).keys(), 100, 101, 102, 103, 104, 115, 116, 117, 118, 119];
      for (const [k, n] of numbers.entries()) {
        await copyFile(join(BUNDLED, "image", vois[k]), join(data, `volume-${n}.nii.gz`));
        await copyFile(join(BUNDLED, "mask", vois[k]), join(data, `segmentation-${n}.nii.gz`));
      }
      const lines: string[] = [];
      const p = await prepareLcs({
        data,
        out: join(dir, "out"),
        quick: true,
        seed: 0,
        patchesPerVolume: 1,
        log: (l) => lines.push(l),
      });
      // quotas round(4·10/20) = 2, round(4·5/20) = 1, 1
      expect(lines[0]).toBe("--quick: kept 4 of 20 cases of --data, drawn with seed 0");
      const splits = JSON.parse(await readFile(join(dir, "out/splits.json"), "utf8")).folds[0];
      expect([splits.train.length, splits.val.length, splits.test.length]).toEqual([2, 1, 1]);
      expect(p.preprocessing).toMatchObject({ modality: "CT", resize: [0.5, 0.5, 1], crop: null });
    });
  });

  it("NCC: --quick --data keeps whole scans shared over the subset parts (6 of 20 with sampleLimit 5)", async () => {
    await withTmp(async (dir) => {
      const data = join(dir, "data");
      const vol = await loadVolume(join(BUNDLED, "image", (await readdir(join(BUNDLED, "image"))).sort()[0]));
      const rows = ["seriesuid,coordX,coordY,coordZ,class"];
      for (let k = 0; k < 20; k++) {
        const subset = join(data, `subset${k % 10}`);
        await mkdir(subset, { recursive: true });
        await writeMetaImage(join(subset, `1.2.${k}.mhd`), vol);
        rows.push(`1.2.${k},0,0,0,1`, `1.2.${k},1,1,1,0`);
      }
      await writeFile(join(data, "candidates_V2.csv"), `${rows.join("\n")}\n`);
      const lines: string[] = [];
      const p = await prepareNcc({
        data,
        out: join(dir, "out"),
        quick: true,
        seed: 0,
        sampleLimit: 5,
        log: (l) => lines.push(l),
      });
      // quotas round(5·10/20) = 3 (subsets 0-4), round(5·4/20) = 1 (5-6), round(5·6/20) = 2 (7-9)
      expect(lines[0]).toBe("--quick: kept 6 of 20 scans of --data, drawn with seed 0");
      const splits = JSON.parse(await readFile(join(dir, "out/splits.json"), "utf8")).folds[0];
      expect([splits.train.length, splits.val.length, splits.test.length]).toEqual([3, 1, 2]);
      expect(p.notes.candidatesSkippedNoScan).toBe(0); // every scan is on disk
      expect(p.notes.candidatesLeftOutByQuick).toBe(28); // the 14 scans left out, 2 candidates each
      expect(p.preprocessing).toMatchObject({
        modality: "CT",
        window: [-1000, 1000],
        patchSize: [64, 64, 32],
      });
    });
  });
});
