import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import { extractCubes, listVolumeFiles, Rng } from "@models-genesis/transforms";
import { readVolume } from "@models-genesis/volume-io";
import { type Command, InvalidArgumentError } from "commander";

/** NumPy .npy v1.0 header for little-endian float32 C-order data, padded to a fixed 128 bytes. */
function npyHeader(shape: number[]): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(", ")}), }`;
  const total = 128;
  const body = `${dict.padEnd(total - 10 - 1, " ")}\n`;
  if (body.length !== total - 10) throw new Error(`npy header too long for shape (${shape.join(", ")})`);
  const head = Buffer.alloc(10);
  head.write("\x93NUMPY", 0, "latin1");
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(body.length, 8);
  return Buffer.concat([head, Buffer.from(body, "latin1")]);
}

/**
 * Streams cubes into a float32 (N, 64, 64, 32) .npy: a temporary file with a fixed-size header,
 * cubes appended as volumes are processed (memory stays at one volume's cubes), the header
 * rewritten with the final N, then renamed into place (atomic).
 */
class CubeWriter {
  private count = 0;
  private constructor(
    private readonly file: string,
    private readonly tmp: string,
    private readonly fh: Awaited<ReturnType<typeof open>>,
  ) {}

  static async create(file: string): Promise<CubeWriter> {
    const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
    const fh = await open(tmp, "w").catch((err) => {
      throw new Error(`${file}: cannot create output (${(err as Error).message})`);
    });
    await fh.write(npyHeader([0, 64, 64, 32]), 0, 128, 0);
    return new CubeWriter(file, tmp, fh);
  }

  async append(cubes: Float32Array): Promise<void> {
    const bytes = Buffer.from(cubes.buffer, cubes.byteOffset, cubes.byteLength);
    await this.fh.write(bytes, 0, bytes.length, 128 + this.count * 64 * 64 * 32 * 4);
    this.count += cubes.length / (64 * 64 * 32);
  }

  async finish(): Promise<void> {
    await this.fh.write(npyHeader([this.count, 64, 64, 32]), 0, 128, 0);
    await this.fh.close();
    await rename(this.tmp, this.file);
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => {});
    await unlink(this.tmp).catch(() => {});
  }
}

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
  /** Content filter limit (reference `lung_max` 0.15, `infinite_generator_3D.py`). */
  lungMax?: number;
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
  let total = 0;
  const skipped: string[] = [];
  const log = (s: string) => {
    if (!opts.quiet) process.stderr.write(`${s}\n`);
  };
  const out = await CubeWriter.create(opts.out);
  try {
    for (const [i, file] of files.entries()) {
      const vol = await readVolume(file);
      const r = extractCubes(vol, rng, {
        scale: opts.scale,
        borderXY: opts.borderXy,
        borderZ: opts.borderZ,
        lungMax: opts.lungMax,
      });
      if (r.skipped) {
        skipped.push(`${file}: ${r.skipped}`);
        log(`[${i + 1}/${files.length}] ${file}: skipped, ${r.skipped}`);
      } else log(`[${i + 1}/${files.length}] ${file}: ${r.count} cubes in ${r.attempts} attempts`);
      if (r.count > 0) await out.append(r.cubes);
      total += r.count;
    }
    if (total === 0) {
      throw new Error(
        skipped.length === files.length
          ? `every volume is too small for the borders (${skipped[0]}${files.length > 1 ? ", …" : ""}); reduce --border-xy / --border-z`
          : `no cube passed the content filter (a tissue score of at most ${Math.round(100 * (opts.lungMax ?? 0.15))} % of voxels ≥ -150 HU) in ${files.length - skipped.length} volume(s); for cubes outside the lungs raise --lung-max`,
      );
    }
    await out.finish();
  } catch (err) {
    await out.abort();
    throw err;
  }
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
    .option(
      "--lung-max <f>",
      "content filter: reject crops whose tissue score exceeds this fraction (reference 0.15)",
      (v: string) => {
        const n = Number(v);
        if (!(n > 0 && n <= 1)) throw new InvalidArgumentError("--lung-max must be in (0, 1]");
        return n;
      },
      0.15,
    )
    .option("--folds <list>", "LUNA16 subsets to read, e.g. 0,1,2,3,4 (train); default all found", folds)
    .option("--quiet", "no per-volume progress on stderr")
    .action(async (inputs: string[], opts: CubesOptions) => {
      await runCubes(inputs, opts);
    });
}
