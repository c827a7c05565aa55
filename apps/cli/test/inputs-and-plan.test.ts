/**
 * @vitest-environment node
 * One input collection for every command (DICOM series folders included; an unusable input is an
 * error), the same cube options on `cubes` and `pretrain` (`--patch-size`, `--cube-shape` deprecated),
 * and `genesis pretrain`'s run plan: written before training, read back by `--resume`, Ctrl-C exits 130.
 * Data: the chest CT of apps/cli/sample and pydicom's CT_small.dcm of fixtures/volume-io (both shipped).
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readNpy } from "@models-genesis/volume-io";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main, pairVolumes } from "../src/index.js";
import { genesis } from "./run-cli.js";

const repoRoot = resolve(__dirname, "../../..");
const CT64 = join(repoRoot, "apps/cli/sample/chest-ct/copdgene_10002K_ct64.nii.gz");
const CT_DCM = join(repoRoot, "fixtures/volume-io/formats/dicom/pydicom/CT_small.dcm");
const CUBE_FLAGS = ["--scale", "2", "--border-xy", "2", "--border-z", "2", "--lung-max", "1"];

let dir: string;
let mixed: string;
let series: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "genesis-inputs-"));
  // mixed/ct64.nii.gz beside mixed/series/ (a DICOM series of one 128×128 slice, named as scanners do)
  mixed = join(dir, "mixed");
  series = join(mixed, "series");
  mkdirSync(series, { recursive: true });
  copyFileSync(CT64, join(mixed, "ct64.nii.gz"));
  copyFileSync(CT_DCM, join(series, "IM0001"));
  writeFileSync(join(dir, "notes.txt"), "not a volume\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("genesis cubes and info collect inputs with collectVolumeInputs", () => {
  it("a NIfTI beside a DICOM folder: both counted ([1/2], [2/2]), the series read (too thin here)", async () => {
    const out = join(dir, "mixed.npy");
    const r = await genesis("cubes", mixed, "--out", out, "--patch-size", "16x16x16", ...CUBE_FLAGS);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`[1/2] ${join(mixed, "ct64.nii.gz")}: 2 cubes in `);
    expect(r.err).toContain(
      `[2/2] ${series}: skipped, 1 slices is too thin for 16+3 slices with a z border of 2 (needs ≥ 24)`,
    );
    expect(r.err).toContain(`wrote 2 cubes (float32 (2, 16, 16, 16)) to ${out}`);
    expect((await readNpy(out)).shape).toEqual([2, 16, 16, 16]);
  });

  it("a DICOM folder alone is read (no longer 'no volume files found')", async () => {
    const r = await genesis("cubes", series, "--out", join(dir, "alone.npy"), ...CUBE_FLAGS);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`[1/1] ${series}: skipped`);
    expect(r.err).toContain(
      `genesis: every volume is too small for the borders (${series}: 1 slices is too thin for 32+3 slices with a z border of 2 (needs ≥ 40)); reduce --border-xy / --border-z\n`,
    );
  });

  it("an input it cannot use is an error naming it, and nothing is written", async () => {
    const txt = join(dir, "notes.txt");
    const out = join(dir, "never.npy");
    const r = await genesis("cubes", CT64, txt, "--out", out, "--patch-size", "16x16x16", ...CUBE_FLAGS);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `genesis: ${txt}: unrecognised format (not NIfTI, Analyze, MetaImage, NumPy .npy or DICOM)\n`,
    );
    expect(existsSync(out)).toBe(false);
    const p = await genesis(
      "pretrain",
      CT64,
      txt,
      "--out",
      join(dir, "never-run"),
      "--patch-size",
      "16x16x16",
    );
    expect(p.code).toBe(1);
    expect(p.err).toContain(`genesis: ${txt}: unrecognised format`);
  });

  it("a junk folder after a good volume fails before any cube is cut; a broken NIfTI is named, not its folder", async () => {
    const junk = join(dir, "junkfolder");
    mkdirSync(junk, { recursive: true });
    writeFileSync(join(junk, "x.dcm"), "not a DICOM file\n");
    const out = join(dir, "junk.npy");
    const r = await genesis("cubes", CT64, junk, "--out", out, "--patch-size", "16x16x16", ...CUBE_FLAGS);
    expect(r.code).toBe(1);
    // no extraction happened: no progress line for the good volume
    expect(r.err).not.toContain("[1/");
    expect(r.err).toMatch(
      new RegExp(
        `^genesis: ${junk}: no volume found \\(.*1 DICOM file in ${junk} but no DICOM image \\(${join(junk, "x.dcm")}: not a DICOM file`,
      ),
    );
    expect(existsSync(out)).toBe(false);
    const p = await genesis("pretrain", CT64, junk, "--out", join(dir, "junk-run"), "--threads", "1");
    expect(p.code).toBe(1);
    expect(p.err).not.toContain("[1/");
    expect(p.err).not.toContain("backend");
    expect(p.err).toContain(`genesis: ${junk}: no volume found`);

    // a folder with a good NIfTI, a broken .nii.gz and a non-image .dcm: the broken NIfTI is named
    const mixedBad = join(dir, "mixed-bad");
    mkdirSync(mixedBad, { recursive: true });
    copyFileSync(CT64, join(mixedBad, "a.nii.gz"));
    writeFileSync(join(mixedBad, "b.nii.gz"), "this is not gzip");
    writeFileSync(join(mixedBad, "rt.dcm"), "not an image either");
    const m = await genesis("cubes", mixedBad, "--out", out, ...CUBE_FLAGS);
    expect(m.code).toBe(1);
    expect(m.err).toBe(
      `genesis: ${join(mixedBad, "b.nii.gz")}: is named .gz but is not gzip-compressed (no 1f 8b magic)\n`,
    );
  });

  it("--cube-shape still works, warns once, and gives the same cubes as --patch-size", async () => {
    const a = join(dir, "a.npy");
    const b = join(dir, "b.npy");
    const ra = await genesis("cubes", CT64, "--out", a, "--patch-size", "16x16x16", ...CUBE_FLAGS);
    const rb = await genesis("cubes", CT64, "--out", b, "--cube-shape", "16,16,16", ...CUBE_FLAGS);
    expect(ra.code).toBe(0);
    expect(rb.code).toBe(0);
    expect(ra.err).not.toContain("deprecated");
    expect(rb.err.split("\n").filter((l) => l.includes("deprecated"))).toEqual([
      "genesis cubes: warning: --cube-shape is deprecated, use --patch-size",
    ]);
    expect(readFileSync(b)).toEqual(readFileSync(a));
    const both = await genesis(
      "cubes",
      CT64,
      "--out",
      b,
      "--cube-shape",
      "16,16,16",
      "--patch-size",
      "32x32x16",
    );
    expect(both.code).toBe(1);
    expect(both.err).toContain(
      "genesis: --cube-shape 16x16x16 contradicts --patch-size 32x32x16; give --patch-size only",
    );
    const bad = await genesis("cubes", CT64, "--out", b, "--patch-size", "20x16x16");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(
      "--patch-size: each size must be a positive multiple of 8, got 20x16x16 (e.g. 64x64x32)",
    );
    // one message for every command's patch flags (finetune used to say "a cube shape is rows,cols,deps")
    for (const [cmd, flag] of [
      ["finetune", "--patch-size"],
      ["finetune", "--patch"],
      ["pretrain", "--patch-size"],
      ["pretrain", "--cube-shape"],
      ["demo", "--cube"],
    ]) {
      const r = await genesis(cmd, flag, "30x30x16", "--out", join(dir, "never"));
      expect(r.code, `${cmd} ${flag}`).toBe(1);
      expect(r.err, `${cmd} ${flag}`).toContain(
        `${flag}: each size must be a positive multiple of 8, got 30x30x16 (e.g. 64x64x32)`,
      );
      expect(r.err).not.toContain("rows,cols,deps");
    }
  });

  it("info: a DICOM folder is its series; a folder of two volumes is an error listing them", async () => {
    const one = await genesis("info", series, "--json");
    expect(one.code, one.err).toBe(0);
    expect(JSON.parse(one.out).shape).toEqual([128, 128, 1]);
    const text = await genesis("info", series);
    expect(text.out).toContain(`file         ${series} (DICOM series)`);
    const two = await genesis("info", mixed);
    expect(two.code).toBe(1);
    expect(two.err).toBe(
      `genesis: ${mixed}: holds 2 volumes (${join(mixed, "ct64.nii.gz")}, ${series}); name one of them\n`,
    );
  });
});

describe("finetune --images/--labels pairs with the same collection", () => {
  it("a DICOM series folder pairs with the label of its name; a missing label is named", async () => {
    const images = join(dir, "pairs", "images");
    const labels = join(dir, "pairs", "labels");
    mkdirSync(join(images, "b"), { recursive: true });
    mkdirSync(labels, { recursive: true });
    copyFileSync(CT64, join(images, "a.nii.gz"));
    copyFileSync(CT_DCM, join(images, "b", "IM0001"));
    copyFileSync(CT64, join(labels, "a.nii.gz"));
    await expect(pairVolumes(images, labels)).rejects.toThrow(
      `${join(labels, "b")}: missing label for image b`,
    );
    copyFileSync(CT64, join(labels, "b.nii.gz"));
    expect(await pairVolumes(images, labels)).toEqual([
      { id: "a", image: join(images, "a.nii.gz"), label: join(labels, "a.nii.gz") },
      { id: "b", image: join(images, "b"), label: join(labels, "b.nii.gz") },
    ]);
  });
});

/**
 * Run the CLI in-process and emit SIGINT (Ctrl-C) once, when a stderr line starting with `at` is
 * written (default: the first epoch's log line).
 */
async function genesisInterrupted(...args: string[]): Promise<{ code: number; err: string }> {
  return genesisInterruptedAt("epoch 1/", ...args);
}

async function genesisInterruptedAt(at: string, ...args: string[]): Promise<{ code: number; err: string }> {
  let err = "";
  let sent = false;
  const o = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  const e = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    if (!sent && String(s).startsWith(at)) {
      sent = true;
      process.emit("SIGINT", "SIGINT");
    }
    return true;
  });
  try {
    return { code: await main(["node", "genesis", ...args]), err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe("genesis pretrain: plan.json before training, --resume reads it, Ctrl-C exits 130", () => {
  const flags = [
    ...["--patch-size", "16x16x16", ...CUBE_FLAGS, "--scale", "6", "--val-fraction", "0.3"],
    ...["--width", "2", "--batch-size", "2", "--epochs", "3", "--steps-per-epoch", "2"],
    ...[
      "--optimizer",
      "adam",
      "--lr",
      "0.01",
      "--seed",
      "5",
      "--threads",
      "1",
      "--plain",
      "--backend",
      "wasm",
    ],
  ];
  const sample = join(repoRoot, "apps/cli/sample/chest-ct");

  it("Ctrl-C during cube extraction exits 130 saying nothing was trained, and leaves no plan.json", async () => {
    const out = join(dir, "cut-early");
    const listeners = process.listenerCount("SIGINT");
    const r = await genesisInterruptedAt("[1/2]", "pretrain", sample, "--out", out, ...flags);
    expect(r.code, r.err).toBe(130);
    // the second volume is not read, no training starts
    expect(r.err).not.toContain("[2/2]");
    expect(r.err).not.toContain("pretraining (");
    expect(r.err.trimEnd().split("\n").at(-1)).toBe(
      `genesis: interrupted during cube extraction: nothing was trained, nothing written to ${out}; run the command again to start`,
    );
    expect(existsSync(join(out, "plan.json"))).toBe(false);
    expect(existsSync(join(out, "checkpoints"))).toBe(false);
    // the SIGINT handler is gone: a later run is not affected
    expect(process.listenerCount("SIGINT")).toBe(listeners);
  });

  it("an interrupted run resumed from its plan equals the plan and the uninterrupted run", async () => {
    const full = join(dir, "full");
    const f = await genesis("pretrain", sample, "--out", full, ...flags);
    expect(f.code, f.err).toBe(0);

    const out = join(dir, "cut");
    const cut = await genesisInterrupted("pretrain", sample, "--out", out, ...flags);
    expect(cut.code, cut.err).toBe(130);
    expect(cut.err).toContain(
      `genesis: interrupted: checkpoint saved in ${join(out, "checkpoints")}; continue with: genesis pretrain --resume --out ${out}\n`,
    );
    const planText = readFileSync(join(out, "plan.json"), "utf8");
    const plan = JSON.parse(planText);
    expect(plan.inputs).toEqual([sample]);
    expect(plan.backend).toBe("wasm");
    expect(plan.options).toMatchObject({
      patchSize: [16, 16, 16],
      scale: 6,
      seed: 5,
      width: 2,
      valFraction: 0.3,
      lr: 0.01,
    });
    expect(plan.options).not.toHaveProperty("threads");
    expect(plan.split.train_count + plan.split.val_count).toBe(12);
    expect(plan.split.train.some((s: string) => plan.split.val.includes(s))).toBe(false);

    // a flag that contradicts the plan: refused in one line, nothing started
    const bad = await genesis("pretrain", "--resume", "--out", out, "--patch-size", "32x32x16");
    expect(bad.code).toBe(1);
    expect(bad.err).toBe(
      `genesis: --resume: --patch-size 32x32x16 contradicts the plan (16x16x16, ${join(out, "plan.json")}); drop the flag to resume the planned run, or start a new --out\n`,
    );
    const otherInputs = await genesis("pretrain", CT64, "--resume", "--out", out);
    expect(otherInputs.code).toBe(1);
    expect(otherInputs.err).toMatch(/^genesis: --resume: the inputs .* are not the plan's/);

    // --resume alone: the plan's inputs, options, split and backend; a flag that agrees is fine
    const res = await genesis(
      "pretrain",
      "--resume",
      "--out",
      out,
      "--width",
      "2",
      "--threads",
      "1",
      "--plain",
    );
    expect(res.code, res.err).toBe(0);
    expect(res.err).toContain(
      `--resume: the run planned in ${join(out, "plan.json")}: 1 input, its options and its split (${plan.split.train_count} training / ${plan.split.val_count} validation cubes)`,
    );
    expect(readFileSync(join(out, "plan.json"), "utf8")).toBe(planText);
    const done = JSON.parse(readFileSync(join(out, "pretrain.json"), "utf8"));
    const ref = JSON.parse(readFileSync(join(full, "pretrain.json"), "utf8"));
    expect(done.cubes).toEqual({
      train: plan.split.train_count,
      val: plan.split.val_count,
      shape: [16, 16, 16],
    });
    expect(done.backend).toBe("wasm");
    expect(done.epochs).toBe(3);
    expect(done.val_mse).toEqual(ref.val_mse);
    expect(done.train_mse).toEqual(ref.train_mse);
  }, 300_000);
});
