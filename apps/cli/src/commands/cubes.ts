import { extractCubes, listVolumeFiles, Rng } from "@models-genesis/transforms";
import { readVolume, writeNpy } from "@models-genesis/volume-io";
import { type Command, InvalidArgumentError } from "commander";

function int(name: string, min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

function folds(v: string): number[] {
  const out = v.split(",").map((s) => Number(s.trim()));
  if (out.some((f) => !Number.isInteger(f) || f < 0 || f > 9)) {
    throw new InvalidArgumentError("--folds takes LUNA16 subset numbers 0–9, e.g. 0,1,2,3,4");
  }
  return out;
}

/** Options of `genesis cubes`. */
export interface CubesOptions {
  out: string;
  scale: number;
  seed: number;
  borderXy: number;
  borderZ: number;
  folds?: number[];
  quiet?: boolean;
}

/**
 * Run `genesis cubes`: extract pretraining cubes from every input volume with one seeded
 * generator (files in sorted order), write float32 (N, 64, 64, 32) in [0, 1] to `out`.
 * @returns the number of cubes written.
 * @throws Error when no volume is found or no volume yields a cube.
 */
export async function runCubes(inputs: string[], opts: CubesOptions): Promise<number> {
  const files = await listVolumeFiles(inputs, opts.folds);
  if (files.length === 0)
    throw new Error(`no volume files (.mhd, .mha, .nii, .nii.gz, .hdr) found in ${inputs.join(", ")}`);
  const rng = new Rng(opts.seed);
  const parts: Float32Array[] = [];
  let total = 0;
  const log = (s: string) => {
    if (!opts.quiet) process.stderr.write(`${s}\n`);
  };
  for (const [i, file] of files.entries()) {
    const vol = await readVolume(file);
    const r = extractCubes(vol, rng, { scale: opts.scale, borderXY: opts.borderXy, borderZ: opts.borderZ });
    if (r.skipped) log(`[${i + 1}/${files.length}] ${file}: skipped, ${r.skipped}`);
    else log(`[${i + 1}/${files.length}] ${file}: ${r.count} cubes in ${r.attempts} attempts`);
    if (r.count > 0) parts.push(r.cubes);
    total += r.count;
  }
  if (total === 0) {
    throw new Error(
      `no cube passed the content filter in ${files.length} volume(s); for small volumes reduce --border-xy / --border-z`,
    );
  }
  const data = new Float32Array(total * 64 * 64 * 32);
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.length;
  }
  await writeNpy(opts.out, { data, shape: [total, 64, 64, 32] });
  log(`wrote ${total} cubes (float32 (${total}, 64, 64, 32)) to ${opts.out}`);
  return total;
}

/**
 * `genesis cubes <files or folders…> --out cubes.npy [--scale 32] [--seed 1] [--border-xy 100]
 * [--border-z 30] [--folds 0,1,2]`: pretraining cubes with the reference generator's semantics
 * (`infinite_generator_3D.py`).
 */
export function register(program: Command): void {
  program
    .command("cubes")
    .description(
      "Extract 64×64×32 pretraining cubes (HU window [-1000, 1000] → [0, 1], content filter at -150 HU) as infinite_generator_3D.py does",
    )
    .argument(
      "<inputs...>",
      "CT volumes (.nii, .nii.gz, .mhd, .mha) or folders; a LUNA16 root (subset0…subset9) is understood",
    )
    .requiredOption("--out <file>", "output .npy (float32, shape (N, 64, 64, 32))")
    .option("--scale <n>", "cubes per volume (paper: 32)", int("--scale", 1), 32)
    .option("--seed <n>", "random seed (the reference uses 1)", int("--seed", 0), 1)
    .option("--border-xy <n>", "in-plane border in voxels (reference 100)", int("--border-xy", 0), 100)
    .option("--border-z <n>", "border in slices (reference 30)", int("--border-z", 0), 30)
    .option("--folds <list>", "LUNA16 subsets to read, e.g. 0,1,2,3,4 (train); default all found", folds)
    .option("--quiet", "no per-volume progress on stderr")
    .action(async (inputs: string[], opts: CubesOptions) => {
      await runCubes(inputs, opts);
    });
}
