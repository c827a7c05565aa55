import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import { extractCubes, Rng } from "@models-genesis/transforms";
import { collectVolumeInputs, readVolume } from "@models-genesis/volume-io";
import type { Command } from "commander";
import { addCubeOptions, type CubeCliOptions, cubeExtractionFrom } from "../lib/cube-options.js";

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
 * Streams cubes into a float32 (N, x, y, z) .npy: a temporary file with a fixed-size header,
 * cubes appended as volumes are processed (memory stays at one volume's cubes), the header
 * rewritten with the final N, then renamed into place (atomic).
 */
class CubeWriter {
  private count = 0;
  private readonly per: number;
  private constructor(
    private readonly file: string,
    private readonly tmp: string,
    private readonly fh: Awaited<ReturnType<typeof open>>,
    private readonly shape: readonly [number, number, number],
  ) {
    this.per = shape[0] * shape[1] * shape[2];
  }

  static async create(file: string, shape: readonly [number, number, number]): Promise<CubeWriter> {
    const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
    const fh = await open(tmp, "w").catch((err) => {
      throw new Error(`${file}: cannot create output (${(err as Error).message})`);
    });
    await fh.write(npyHeader([0, ...shape]), 0, 128, 0);
    return new CubeWriter(file, tmp, fh, shape);
  }

  async append(cubes: Float32Array): Promise<void> {
    const bytes = Buffer.from(cubes.buffer, cubes.byteOffset, cubes.byteLength);
    await this.fh.write(bytes, 0, bytes.length, 128 + this.count * this.per * 4);
    this.count += cubes.length / this.per;
  }

  async finish(): Promise<void> {
    await this.fh.write(npyHeader([this.count, ...this.shape]), 0, 128, 0);
    await this.fh.close();
    await rename(this.tmp, this.file);
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => {});
    await unlink(this.tmp).catch(() => {});
  }
}

/** Options of `genesis cubes`: the shared cube options ({@link addCubeOptions}) and the output. */
export interface CubesOptions extends CubeCliOptions {
  out: string;
  quiet?: boolean;
}

/**
 * Run `genesis cubes`: extract pretraining cubes of `--patch-size` from every input volume
 * (volume-io's `collectVolumeInputs`: files of any format, folders with volume files and DICOM
 * series, LUNA16 roots by fold) with one seeded generator, in input order, and write float32
 * (N, x, y, z) in [0, 1] to `out`.
 * @returns the number of cubes written.
 * @throws VolumeReadError naming an input that is missing, of no known format, without volumes, or
 *   unusable by the up-front check (`collectVolumeInputs({ check: true })`), before any cube is cut;
 *   Error when no volume yields a cube.
 */
export async function runCubes(inputs: string[], opts: CubesOptions): Promise<number> {
  const log = (s: string) => {
    if (!opts.quiet) process.stderr.write(`${s}\n`);
  };
  const ex = cubeExtractionFrom(opts, (l) => process.stderr.write(`${l}\n`));
  // every input checked up front (headers, DICOM images): a junk input fails before any extraction
  const files = await collectVolumeInputs(inputs, { folds: ex.folds, check: true });
  const rng = new Rng(ex.seed);
  let total = 0;
  const skipped: string[] = [];
  const out = await CubeWriter.create(opts.out, ex.patchSize);
  try {
    for (const [i, { path: file }] of files.entries()) {
      const vol = await readVolume(file);
      const r = extractCubes(vol, rng, ex);
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
          : `no cube passed the content filter (a tissue score of at most ${Math.round(100 * (ex.lungMax ?? 0.15))} % of voxels ≥ -150 HU) in ${files.length - skipped.length} volume(s); for cubes outside the lungs raise --lung-max`,
      );
    }
    await out.finish();
  } catch (err) {
    await out.abort();
    throw err;
  }
  log(`wrote ${total} cubes (float32 (${[total, ...ex.patchSize].join(", ")})) to ${opts.out}`);
  return total;
}

/**
 * `genesis cubes <files or folders…> --out cubes.npy [--patch-size 64x64x32] [--scale 32] [--seed 1]
 * [--border-xy 100] [--border-z 30] [--lung-max 0.15] [--folds 0,1,2]`: pretraining cubes with the
 * reference generator's semantics (`infinite_generator_3D.py`); the cube options are those of
 * `genesis pretrain` (one definition, `addCubeOptions`).
 */
export function register(program: Command): void {
  const cmd = program
    .command("cubes")
    .description(
      "Extract pretraining cubes (default 64x64x32; HU window [-1000, 1000] → [0, 1], content filter at -150 HU) as infinite_generator_3D.py does",
    )
    .argument(
      "<inputs...>",
      "CT volumes (any format genesis info reads), folders of them, DICOM series folders, or a LUNA16 root (subset0…subset9)",
    )
    .requiredOption("--out <file>", "output .npy (float32, shape (N, x, y, z) of --patch-size)");
  addCubeOptions(cmd)
    .option("--quiet", "no per-volume progress on stderr")
    .action(async (inputs: string[], opts: CubesOptions) => {
      await runCubes(inputs, opts);
    });
}
