import { join } from "node:path";
import {
  discoverLits,
  gridWindows,
  litsPart,
  loadVolume,
  PyRandom,
  prepareLitsCase,
  type Sample,
  type SampleArrays,
  type Split,
  sampleWindows,
  stackSamples,
  type TaskArrays,
} from "@models-genesis/datasets";
import { resample, type Vec3, type Volume } from "@models-genesis/volume-io";
import type { PreparedTask } from "../app.js";
import { taskPreprocessing } from "../config.js";
import { freshSampleDir, needSample, PARTS, type PrepareOptions, quickData, splitsOf } from "../prepare.js";
import { LCS_CONFIG } from "./config.js";
import { buildLcsSampleLayout } from "./sample.js";

/**
 * LCS (LiTS liver segmentation). Split by case number (0–99 / 100–114 / 115–129, `lcs_config`);
 * each case scaled by the config's `resize` [0.5, 0.5, 1] (LiTS 512×512 → 256×256, as the
 * reference's `3D_LiTS_NPY_256x256xZ`; volume-io `resample` `{ scale }`, CT trilinear in HU, mask
 * nearest) and then windowed (`prepareLitsCase`) — the record's order, the one `predictVolume`
 * applies, so a model sees at prediction exactly the values it was trained on —, which the
 * returned record states; training: `patchesPerVolume`
 * random 64×64×32 windows per volume, half of them centred on liver (`foregroundRatio` 0.5, our
 * choice: the reference's patch generator is not public); validation / test: the whole volume tiled.
 */
export async function prepareLcs(
  o: PrepareOptions & { patchesPerVolume?: number; foregroundRatio?: number },
): Promise<PreparedTask> {
  const config = LCS_CONFIG;
  const resize = config.resize ?? ([1, 1, 1] as Vec3);
  let root = o.data;
  let sampleNote: Record<string, unknown> = {};
  if (!root) {
    root = await freshSampleDir(o.out);
    const r = await buildLcsSampleLayout(join(needSample(o), "ct"), root);
    sampleNote = { sampleCases: r.cases, sampleSkipped: r.skipped };
    o.log?.(
      `LCS sample layout: cases ${r.cases.join(", ")} in ${root}${r.skipped.length ? ` (skipped: ${r.skipped.join("; ")})` : ""}`,
    );
  }
  const { cases } = await discoverLits(root);
  const used = quickData(
    o,
    cases.filter((c) => litsPart(c.n) !== null),
    { limit: config.quickLimit, unit: "cases", groupOf: (c) => c.id, partOf: (c) => litsPart(c.n)! },
  );
  const ids = used.map((c) => c.id);
  const { file, splits } = await splitsOf(
    o,
    "lcs",
    ids,
    "LiTS case numbers 0-99 train / 100-114 val / 115-129 test (lcs_config)",
    () => {
      const s: Split = { train: [], val: [], test: [] };
      for (const c of used) s[litsPart(c.n)!].push(c.id);
      return [s];
    },
  );
  const n = o.patchesPerVolume ?? (o.quick ? 8 : 32);
  const ratio = o.foregroundRatio ?? 0.5;
  const rng = new PyRandom(o.seed);
  const byId = new Map(used.map((c) => [c.id, c]));
  const arrays: Partial<Record<string, SampleArrays>> = {};
  for (const part of PARTS) {
    const samples: Sample[] = [];
    for (const id of splits.folds[0][part]) {
      const c = byId.get(id)!;
      // the record's order, as predictVolume applies it: scale the HU volume, then window
      const { image, mask } = prepareLitsCase(
        scaleVolume(await loadVolume(c.volume), resize, "linear"),
        scaleVolume(await loadVolume(c.segmentation), resize, "nearest"),
        { inPlane: null, window: { min: config.window[0], max: config.window[1] } },
      );
      const opts = { crop: config.patchSize, idPrefix: id };
      samples.push(
        ...(part === "train"
          ? sampleWindows(image, mask, { ...opts, n, foregroundRatio: ratio, rng })
          : gridWindows(image, mask, opts)),
      );
    }
    arrays[part] = stackSamples(samples, config.patchSize);
  }
  return {
    task: "lcs",
    config,
    preprocessing: taskPreprocessing(config),
    folds: [arrays as unknown as TaskArrays],
    splitsFile: file,
    dataRoot: root,
    sample: !o.data,
    notes: {
      ...sampleNote,
      patchesPerVolume: n,
      foregroundRatio: ratio,
      resize,
      empty: PARTS.filter((p) => arrays[p]!.xShape[0] === 0),
    },
  };
}

/**
 * Scale a volume by `factor` per axis (output voxels = max(1, round(input × factor))) with
 * volume-io's `resample` (`{ scale }`: the half-pixel mapping of skimage `resize`, the very call
 * `predictVolume` makes for the record's `resize`): `linear` for the CT in HU, `nearest` for the
 * segmentation. A factor of 1 everywhere returns the volume.
 */
function scaleVolume(vol: Volume, factor: Vec3, mode: "linear" | "nearest"): Volume {
  if (factor.every((f) => f === 1)) return vol;
  return resample(vol, { scale: factor }, { mode });
}
