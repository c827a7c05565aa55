// A frozen copy of `src/genesis/pair.ts` as it was before the Genesis pair became a composition of
// registered transforms (commit 6454154). Test-only: `genesis-contract.test.ts` proves the new
// pipeline draws the same params and builds the same arrays as this code, seed for seed.

import {
  type FlipMode,
  flip3d,
  flippedAxes,
  type GenesisFlipParams,
  sampleGenesisFlip,
} from "../src/genesis/flip.js";
import {
  type LocalShuffleParams,
  localShuffleInto,
  sampleLocalShuffle,
} from "../src/genesis/localPixelShuffle.js";
import { type NonlinearParams, nonlinearInto, sampleNonlinear } from "../src/genesis/nonlinear.js";
import {
  inPaintInPlace,
  outPaintInPlace,
  type PaintParams,
  sampleInPaint,
  sampleOutPaint,
} from "../src/genesis/paint.js";
import { checkMinSize, MIN_AXIS } from "../src/genesis/sizes.js";
import type { Rng } from "../src/rng.js";
import type { AppliedTransform, Shape3 } from "../src/types.js";
import { numel } from "../src/types.js";

/**
 * Rates and switches of the Genesis pair generator. Defaults are the reference's
 * (`pytorch/config.py`: flip_rate 0.4, local_rate 0.5, nonlinear_rate 0.9, paint_rate 0.9,
 * outpaint_rate 0.8, inpaint_rate = 1 − outpaint_rate = 0.2). A switched-off transform
 * behaves as rate 0; with in-painting off every painting is an out-painting and vice versa.
 * The paper's ablations are `genesisAblation(...)`.
 */
export interface LegacyGenesisConfig {
  flipRate: number;
  flipMode: FlipMode;
  localRate: number;
  nonlinearRate: number;
  paintRate: number;
  /** Probability that a painting is an in-painting (else out-painting). */
  inpaintRate: number;
  flip: boolean;
  localShuffle: boolean;
  nonlinear: boolean;
  inPaint: boolean;
  outPaint: boolean;
  /** Local shuffling blocks; reference 10,000. */
  localBlocks: number;
  /** Bézier samples; reference 100,000. */
  bezierTimes: number;
}

/** The reference configuration (`pytorch/config.py`, `models_genesis_config`). */
export const LEGACY_GENESIS_DEFAULTS: Readonly<LegacyGenesisConfig> = Object.freeze({
  flipRate: 0.4,
  flipMode: "reference",
  localRate: 0.5,
  nonlinearRate: 0.9,
  paintRate: 0.9,
  inpaintRate: 0.2,
  flip: true,
  localShuffle: true,
  nonlinear: true,
  inPaint: true,
  outPaint: true,
  localBlocks: 10000,
  bezierTimes: 100000,
});

/** Named ablations of the paper (Zhou et al. 2021, Table/Fig. on individual transformations). */
export type LegacyGenesisAblation =
  | "identity"
  | "flip"
  | "localShuffle"
  | "nonlinear"
  | "inPaint"
  | "outPaint"
  | "all";

/**
 * Config for one of the paper's ablations: `identity` (target = input), one transform alone
 * (applied with its reference rate; flips stay on, as in the reference's data augmentation,
 * except for `identity`), or `all` (the defaults).
 */
export function legacyGenesisAblation(which: LegacyGenesisAblation): LegacyGenesisConfig {
  const off = { localShuffle: false, nonlinear: false, inPaint: false, outPaint: false };
  switch (which) {
    case "all":
      return { ...LEGACY_GENESIS_DEFAULTS };
    case "identity":
      return { ...LEGACY_GENESIS_DEFAULTS, ...off, flip: false };
    case "flip":
      return { ...LEGACY_GENESIS_DEFAULTS, ...off };
    default:
      return { ...LEGACY_GENESIS_DEFAULTS, ...off, [which]: true };
  }
}

/** Everything drawn for one pair; `null` = not applied. */
export interface LegacyGenesisPairParams {
  shape: Shape3;
  flip: GenesisFlipParams;
  localShuffle: LocalShuffleParams | null;
  nonlinear: NonlinearParams | null;
  paint: { kind: "inPaint" | "outPaint"; params: PaintParams } | null;
}

/** A generated pair: `input` = transformed, `target` = the (flipped) original. float32, C order (x, y, z). */
export interface LegacyGenesisPair {
  input: Float32Array;
  target: Float32Array;
  params: LegacyGenesisPairParams;
  history: AppliedTransform[];
}

function resolve(config: Partial<LegacyGenesisConfig>): LegacyGenesisConfig {
  const c = { ...LEGACY_GENESIS_DEFAULTS, ...config };
  for (const k of ["flipRate", "localRate", "nonlinearRate", "paintRate", "inpaintRate"] as const) {
    if (!(c[k] >= 0 && c[k] <= 1))
      throw new Error(`transforms/genesisPair: ${k} must be in [0, 1], got ${c[k]}`);
  }
  return c;
}

/**
 * Draw all params of one Genesis pair, in the reference's order (`pytorch/utils.py`,
 * `generate_pair`): flips; `random() ≥ local_rate` → skip, else blocks; `random() ≥
 * nonlinear_rate` → skip, else the curve; `random() < paint_rate` then `random() < inpaint_rate`
 * → in-painting, else out-painting. Cheap: no voxel is touched.
 *
 * @param shape cube shape (x, y, z), e.g. (64, 64, 32).
 * @throws Error when an axis is too short for an enabled transform (message names it and the minimum).
 */
export function legacySampleGenesisPair(
  rng: Rng,
  shape: Shape3,
  config: Partial<LegacyGenesisConfig> = {},
): LegacyGenesisPairParams {
  const c = resolve(config);
  if (c.localShuffle && c.localRate > 0) checkMinSize("localPixelShuffle", shape, MIN_AXIS.localPixelShuffle);
  const paintOn = (c.inPaint || c.outPaint) && c.paintRate > 0;
  const inRate = !c.inPaint ? 0 : !c.outPaint ? 1 : c.inpaintRate;
  if (paintOn && inRate > 0) checkMinSize("inPaint", shape, MIN_AXIS.inPaint);
  if (paintOn && inRate < 1) checkMinSize("outPaint", shape, MIN_AXIS.outPaint);

  const flip = sampleGenesisFlip(rng, c.flip ? c.flipRate : 0, 3, c.flipMode);
  const localRate = c.localShuffle ? c.localRate : 0;
  const localShuffle = rng.random() >= localRate ? null : sampleLocalShuffle(rng, shape, c.localBlocks);
  const nonlinearRate = c.nonlinear ? c.nonlinearRate : 0;
  const nonlinear = rng.random() >= nonlinearRate ? null : sampleNonlinear(rng, c.bezierTimes);
  let paint: LegacyGenesisPairParams["paint"] = null;
  if (rng.random() < (paintOn ? c.paintRate : 0)) {
    paint =
      rng.random() < inRate
        ? { kind: "inPaint", params: sampleInPaint(rng, shape) }
        : { kind: "outPaint", params: sampleOutPaint(rng, shape) };
  }
  return { shape: [shape[0], shape[1], shape[2]], flip, localShuffle, nonlinear, paint };
}

/** The applied transforms of a pair's params, in order (flip recorded only when it flipped). */
export function legacyGenesisHistory(p: LegacyGenesisPairParams): AppliedTransform[] {
  const h: AppliedTransform[] = [];
  if (p.flip.draws.length > 0) h.push({ name: "genesisFlip", params: p.flip });
  if (p.localShuffle) h.push({ name: "localPixelShuffle", params: p.localShuffle });
  if (p.nonlinear) h.push({ name: "nonlinearIntensity", params: p.nonlinear });
  if (p.paint) h.push({ name: p.paint.kind, params: p.paint.params });
  return h;
}

/**
 * Deterministically build the pair from a cube and drawn params into caller-owned buffers
 * (e.g. `subarray` views of a batch): target = flip(cube); input = paint(nonlinear(shuffle(target))).
 * No allocation beyond small scratch; `cube` is not modified and must not alias the outputs.
 * @param cube float32, C order (x, y, z) with `params.shape`.
 * @throws Error when a buffer length does not match the shape.
 */
export function legacyApplyGenesisPairInto(
  cube: Float32Array,
  params: LegacyGenesisPairParams,
  input: Float32Array,
  target: Float32Array,
): void {
  const shape = params.shape;
  const n = numel(shape);
  for (const [name, a] of [
    ["cube", cube],
    ["input", input],
    ["target", target],
  ] as const) {
    if (a.length !== n) {
      throw new Error(
        `transforms/genesisPair: ${name} has ${a.length} values, shape [${shape.join(", ")}] needs ${n}`,
      );
    }
  }
  flip3d(cube, shape, flippedAxes(params.flip), target);
  if (params.localShuffle) localShuffleInto(target, input, shape, params.localShuffle);
  else input.set(target);
  if (params.nonlinear) nonlinearInto(input, input, params.nonlinear);
  if (params.paint?.kind === "inPaint") inPaintInPlace(input, shape, params.paint.params);
  else if (params.paint?.kind === "outPaint") outPaintInPlace(input, shape, params.paint.params);
}

/**
 * Deterministically build the pair from a cube and drawn params (new arrays); see
 * {@link applyGenesisPairInto}.
 */
export function legacyApplyGenesisPair(
  cube: Float32Array,
  params: LegacyGenesisPairParams,
): { input: Float32Array; target: Float32Array } {
  const n = numel(params.shape);
  const input = new Float32Array(n);
  const target = new Float32Array(n);
  legacyApplyGenesisPairInto(cube, params, input, target);
  return { input, target };
}

/**
 * One Models Genesis training pair (`pytorch/utils.py`, `generate_pair`, per sample):
 * flip (input and target together), local pixel shuffling, non-linear intensity transform,
 * in- or out-painting, at the configured rates (defaults {@link LEGACY_GENESIS_DEFAULTS}).
 *
 * @param cube float32 voxels in [0, 1], C order over `shape` (x, y, z); not modified.
 * @param shape e.g. (64, 64, 32); every axis ≥ 14 with painting on (see `MIN_AXIS`).
 * @param rng the explicit generator; same seed → same pair.
 * @returns `input` (transformed) and `target` (flipped original), both float32 with `shape`,
 *   plus the drawn params and the applied-transform history.
 */
export function legacyGenesisPair(
  cube: Float32Array,
  shape: Shape3,
  rng: Rng,
  config: Partial<LegacyGenesisConfig> = {},
): LegacyGenesisPair {
  const params = legacySampleGenesisPair(rng, shape, config);
  return { ...legacyApplyGenesisPair(cube, params), params, history: legacyGenesisHistory(params) };
}
