/**
 * The cube/patch options shared by `genesis cubes` and `genesis pretrain` (one definition, so the two
 * commands take the same flags with the same parsing and defaults).
 */
import { parsePatchSize } from "@models-genesis/inference";
import type { CubeExtractionOptions } from "@models-genesis/transforms";
import { REFERENCE_PATCH_SIZE } from "@models-genesis/volume-io";
import { type Command, InvalidArgumentError, Option } from "commander";

/**
 * commander parser for a patch size `XxYxZ` given with `flag` (voxels; `,` and `×` also separate),
 * each a positive multiple of 8 (the U-Net pools three times).
 * @throws InvalidArgumentError for anything else: `FLAG: each size must be a positive multiple of 8,
 *   got 30x30x16 (e.g. 64x64x32)`.
 */
export function patchSizeArgFor(flag: string): (v: string) => [number, number, number] {
  return (v: string) => {
    let s: readonly number[] = [];
    try {
      s = parsePatchSize(v, flag);
    } catch {}
    if (s.length !== 3 || s.some((d) => d % 8 !== 0)) {
      throw new InvalidArgumentError(
        `${flag}: each size must be a positive multiple of 8, got ${v} (e.g. 64x64x32)`,
      );
    }
    return [s[0], s[1], s[2]];
  };
}

/** {@link patchSizeArgFor} of `--patch-size`. */
export const patchSizeArg = patchSizeArgFor("--patch-size");

/** The one format of a deprecated flag's warning: `genesis <cmd>: warning: --x is deprecated, use --y`. */
export function deprecationWarning(command: string, flag: string, use: string): string {
  return `genesis ${command}: warning: ${flag} is deprecated, use ${use}`;
}

function intArg(name: string, min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

/** commander parser for `--folds`: LUNA16 subset numbers 0–9. */
export function foldsArg(v: string): number[] {
  const out = v.split(",").map((s) => Number(s.trim()));
  if (out.some((f) => !Number.isInteger(f) || f < 0 || f > 9)) {
    throw new InvalidArgumentError("--folds takes LUNA16 subset numbers 0–9, e.g. 0,1,2,3,4");
  }
  return out;
}

/** The cube options as commander parses them (see {@link addCubeOptions}). */
export interface CubeCliOptions {
  patchSize?: [number, number, number];
  /** Deprecated alias of `patchSize`. */
  cubeShape?: [number, number, number];
  scale: number;
  seed: number;
  borderXy: number;
  borderZ: number;
  lungMax: number;
  folds?: number[];
}

/**
 * Add the cube/patch options to a command: `--patch-size XxYxZ` (default 64x64x32; `--cube-shape`
 * kept as a hidden, deprecated alias), `--scale`, `--seed`, `--border-xy`, `--border-z`,
 * `--lung-max` and `--folds`, with the reference generator's defaults (`infinite_generator_3D.py`).
 * @param seedHelp what the seed seeds in this command.
 */
export function addCubeOptions(
  cmd: Command,
  seedHelp = "seed of the cube sampler (the reference uses 1)",
): Command {
  return cmd
    .option(
      "--patch-size <XxYxZ>",
      `cube (pretraining patch) size in voxels, each a multiple of 8 (default: ${REFERENCE_PATCH_SIZE.join("x")})`,
      patchSizeArg,
    )
    .addOption(
      new Option("--cube-shape <XxYxZ>", "deprecated: use --patch-size")
        .argParser(patchSizeArgFor("--cube-shape"))
        .hideHelp(),
    )
    .option("--scale <n>", "cubes per volume (infinite_generator_3D.py; paper 32)", intArg("--scale", 1), 32)
    .option("--seed <n>", seedHelp, intArg("--seed", 0), 1)
    .option(
      "--border-xy <n>",
      "in-plane border of the cube sampler in voxels (reference 100)",
      intArg("--border-xy", 0),
      100,
    )
    .option(
      "--border-z <n>",
      "z border of the cube sampler in slices (reference 30)",
      intArg("--border-z", 0),
      30,
    )
    .option(
      "--lung-max <f>",
      "content filter: reject a crop whose tissue score exceeds this fraction (reference 0.15)",
      (v: string) => {
        const n = Number(v);
        if (!(n > 0 && n <= 1)) throw new InvalidArgumentError("--lung-max must be in (0, 1]");
        return n;
      },
      0.15,
    )
    .option(
      "--folds <list>",
      "LUNA16 subsets to read, e.g. 0,1,2,3,4 (reference training folds); default all found",
      foldsArg,
    );
}

/**
 * The patch size the options ask for: `--patch-size`, else the deprecated `--cube-shape` (with one
 * warning line), else 64×64×32.
 * @throws Error when both are given and differ (at action time, so a plain Error: `main` prints it).
 */
export function patchSizeFrom(
  o: CubeCliOptions,
  warn: (line: string) => void,
  command = "cubes",
): [number, number, number] {
  if (o.cubeShape === undefined) return o.patchSize ?? [...REFERENCE_PATCH_SIZE];
  warn(deprecationWarning(command, "--cube-shape", "--patch-size"));
  if (o.patchSize && o.patchSize.join("x") !== o.cubeShape.join("x"))
    throw new Error(
      `--cube-shape ${o.cubeShape.join("x")} contradicts --patch-size ${o.patchSize.join("x")}; give --patch-size only`,
    );
  return o.cubeShape;
}

/** Cube extraction options (transforms' `extractCubes`) from the parsed flags; warns about `--cube-shape`. */
export function cubeExtractionFrom(
  o: CubeCliOptions,
  warn: (line: string) => void,
  command = "cubes",
): CubeExtractionOptions & { patchSize: [number, number, number]; seed: number; folds?: number[] } {
  return {
    patchSize: patchSizeFrom(o, warn, command),
    scale: o.scale,
    seed: o.seed,
    borderXY: o.borderXy,
    borderZ: o.borderZ,
    lungMax: o.lungMax,
    folds: o.folds,
  };
}
