import { mkdir } from "node:fs/promises";
import path from "node:path";
import {
  applyGenesisPairInto,
  type FlipMode,
  type GenesisAblation,
  genesisAblation,
  genesisAblations,
  Rng,
  readCubes,
  sampleGenesisPair,
  writeSliceSheet,
} from "@models-genesis/transforms";
import { writeNpy } from "@models-genesis/volume-io";
import { type Command, InvalidArgumentError, Option } from "commander";

/** Options of `genesis pairs`. */
export interface PairsOptions {
  cubes: string;
  n: number;
  seed: number;
  out: string;
  png?: string;
  ablation: GenesisAblation;
  flipMode: FlipMode;
  sheetRows: number;
}

const CUBE = 64 * 64 * 32;

/**
 * Run `genesis pairs`: draw `n` cubes (a seeded shuffle of the file's cubes, reshuffled when
 * exhausted, as `generate_pair` does per batch), build Genesis pairs, write `out/input.npy` and
 * `out/target.npy` (float32 (n, 64, 64, 32)) and a slice sheet (transformed | original).
 * @returns the written paths.
 */
export async function runPairs(opts: PairsOptions): Promise<{ input: string; target: string; png: string }> {
  const cubes = await readCubes(opts.cubes);
  const count = cubes.shape[0];
  if (count === 0) throw new Error(`${opts.cubes}: holds no cubes`);
  const rng = new Rng(opts.seed);
  const config = { ...genesisAblation(opts.ablation), flipMode: opts.flipMode };
  const input = new Float32Array(opts.n * CUBE);
  const target = new Float32Array(opts.n * CUBE);
  let order: number[] = [];
  let next = 0;
  for (let i = 0; i < opts.n; i++) {
    if (next === order.length) {
      order = rng.shuffle([...Array(count).keys()]);
      next = 0;
    }
    const c = order[next++];
    const params = sampleGenesisPair(rng, [64, 64, 32], config);
    applyGenesisPairInto(
      cubes.data.subarray(c * CUBE, (c + 1) * CUBE),
      params,
      input.subarray(i * CUBE, (i + 1) * CUBE),
      target.subarray(i * CUBE, (i + 1) * CUBE),
    );
  }
  await mkdir(opts.out, { recursive: true });
  const paths = {
    input: path.join(opts.out, "input.npy"),
    target: path.join(opts.out, "target.npy"),
    png: opts.png ?? path.join(opts.out, "sheet.png"),
  };
  await writeNpy(paths.input, { data: input, shape: [opts.n, 64, 64, 32] });
  await writeNpy(paths.target, { data: target, shape: [opts.n, 64, 64, 32] });
  const rows = [...Array(Math.min(opts.n, opts.sheetRows)).keys()].map((i) => ({
    label: `pair ${i}`,
    volumes: [input.subarray(i * CUBE, (i + 1) * CUBE), target.subarray(i * CUBE, (i + 1) * CUBE)],
  }));
  await writeSliceSheet(paths.png, rows, { columns: ["transformed", "original"] });
  return paths;
}

function int(name: string, min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

/**
 * `genesis pairs --cubes cubes.npy --n 64 --seed 1 --out DIR [--png sheet.png]`: Models Genesis
 * training pairs (`pytorch/utils.py`, `generate_pair`) and a picture of them.
 */
export function register(program: Command): void {
  program
    .command("pairs")
    .description(
      "Generate Models Genesis (input, target) pairs from a cube file: DIR/input.npy, DIR/target.npy and a PNG sheet (slices at 2/6…5/6 of depth, transformed beside original)",
    )
    .requiredOption(
      "--cubes <file>",
      "cube .npy: `genesis cubes` output or official bat_*.npy, shape (N, 64, 64, 32)",
    )
    .requiredOption("--out <dir>", "output folder")
    .option("--n <count>", "number of pairs", int("--n", 1), 64)
    .option("--seed <n>", "random seed", int("--seed", 0), 1)
    .option("--png <file>", "slice sheet path (default DIR/sheet.png)")
    .option("--sheet-rows <n>", "pairs drawn in the sheet", int("--sheet-rows", 1), 8)
    .addOption(
      new Option("--ablation <which>", "transforms on (the paper's ablations, from the transforms registry)")
        .choices(genesisAblations())
        .default("all"),
    )
    .addOption(
      new Option(
        "--flip-mode <mode>",
        "reference: axis draw of pytorch/utils.py (channel-axis no-op, depth never flipped); spatial: x, y or z",
      )
        .choices(["reference", "spatial"])
        .default("reference"),
    )
    .action(async (opts: PairsOptions) => {
      const p = await runPairs(opts);
      process.stderr.write(`wrote ${opts.n} pairs to ${p.input}, ${p.target} and ${p.png}\n`);
    });
}
