import { applyIntoOf, historyOf, oneOf, withProb } from "../compose.js";
import { createTransform, defaultTransform, type GenesisRole, genesisRoles } from "../registry.js";
import type { Rng } from "../rng.js";
import type { AppliedTransform, Image3D, Shape3, Transform } from "../types.js";
import { numel } from "../types.js";
import type { FlipMode, GenesisFlipParams } from "./flip.js";
import type { LocalShuffleParams } from "./localPixelShuffle.js";
import type { NonlinearParams } from "./nonlinear.js";
import type { PaintParams } from "./paint.js";
import { checkMinSize } from "./sizes.js";

/**
 * Rates and switches of the Genesis pair generator. Defaults are the reference's
 * (`pytorch/config.py`: flip_rate 0.4, local_rate 0.5, nonlinear_rate 0.9, paint_rate 0.9,
 * outpaint_rate 0.8, inpaint_rate = 1 − outpaint_rate = 0.2). A switched-off transform
 * behaves as rate 0; with in-painting off every painting is an out-painting and vice versa.
 * The named fields are the built-in transforms'; contributed transforms (registered with a
 * `genesis` role, see `registry.ts`) are switched by `enabled[name]` and their stage rate is
 * `rates[stage]` (default: the registered rate). The paper's ablations are `genesisAblation(...)`.
 */
export interface GenesisConfig {
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
  /** Switches of contributed transforms by Genesis role name (default on). */
  enabled?: Readonly<Record<string, boolean>>;
  /** Stage rates of contributed transforms by stage name (default the registered rate), each in [0, 1]. */
  rates?: Readonly<Record<string, number>>;
}

/** The reference configuration (`pytorch/config.py`, `models_genesis_config`). */
export const GENESIS_DEFAULTS: Readonly<GenesisConfig> = Object.freeze({
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

/**
 * Name of an ablation: `"all"`, `"identity"`, or the Genesis role name of a registered transform
 * (built-ins: `"flip"`, `"localShuffle"`, `"nonlinear"`, `"inPaint"`, `"outPaint"`); see
 * {@link genesisAblations}.
 */
export type GenesisAblation = string;

function isEnabled(c: GenesisConfig, role: GenesisRole): boolean {
  return role.switchKey ? c[role.switchKey] : (c.enabled?.[role.name] ?? true);
}

function stageOf(role: GenesisRole): string {
  return role.stage ?? role.name;
}

function stageRate(c: GenesisConfig, role: GenesisRole): number {
  return role.rateKey ? c[role.rateKey] : (c.rates?.[stageOf(role)] ?? role.rate);
}

/** A copy of `c` with the transform of `role` switched on or off. */
function withEnabled(c: GenesisConfig, role: GenesisRole, on: boolean): GenesisConfig {
  if (role.switchKey) return { ...c, [role.switchKey]: on };
  return { ...c, enabled: { ...c.enabled, [role.name]: on } };
}

/** A copy of `c` with the stage rate of `role` set. */
function withRate<C extends Partial<GenesisConfig>>(c: C, role: GenesisRole, rate: number): C {
  if (role.rateKey) return { ...c, [role.rateKey]: rate };
  return { ...c, rates: { ...c.rates, [stageOf(role)]: rate } };
}

/** Stage names of the Genesis pipeline, in order (built-ins: `flip`, `localShuffle`, `nonlinear`, `paint`). */
export function genesisStageNames(): string[] {
  return [...new Set(genesisRoles().map((r) => stageOf(r.role)))];
}

/**
 * A copy of `config` with the probability of stage `stage` set — a built-in's named field
 * (`flip` → `flipRate`, `localShuffle` → `localRate`, `nonlinear` → `nonlinearRate`,
 * `paint` → `paintRate`) or `rates[stage]` for a contributed stage (the CLI's `--rate stage=p`).
 * @throws Error for an unknown stage or a rate outside [0, 1].
 */
export function withGenesisRate(
  config: Partial<GenesisConfig>,
  stage: string,
  rate: number,
): Partial<GenesisConfig> {
  const r = genesisRoles().find((x) => stageOf(x.role) === stage);
  if (!r) {
    throw new Error(
      `transforms/withGenesisRate: unknown Genesis stage "${stage}" (stages: ${genesisStageNames().join(", ")})`,
    );
  }
  if (!(rate >= 0 && rate <= 1)) {
    throw new Error(`transforms/withGenesisRate: the rate of "${stage}" must be in [0, 1], got ${rate}`);
  }
  return withRate(config, r.role, rate);
}

/**
 * Names accepted by {@link genesisAblation}, from the registry: `"all"`, `"identity"`, then every
 * Genesis role in pipeline order — with the built-ins `all, identity, flip, localShuffle,
 * nonlinear, inPaint, outPaint` (the CLI's `--transforms` choices).
 */
export function genesisAblations(): string[] {
  return ["all", "identity", ...genesisRoles().map((r) => r.role.name)];
}

/** Role names of the registered corruptions (Genesis roles that are not `pairwise`), in pipeline order. */
export function genesisCorruptions(): string[] {
  return genesisRoles()
    .filter((r) => !r.role.pairwise)
    .map((r) => r.role.name);
}

function roleNamed(name: string, op: string) {
  const r = genesisRoles().find((x) => x.role.name === name);
  if (!r) {
    throw new Error(
      `transforms/${op}: unknown Genesis transform "${name}" (known: ${genesisRoles()
        .map((x) => x.role.name)
        .join(", ")})`,
    );
  }
  return r.role;
}

/**
 * Config for one of the paper's ablations: `identity` (target = input), one transform alone
 * (applied with its reference rate; flips (`pairwise` stages) stay on, as in the reference's data
 * augmentation, except for `identity`), or `all` (the defaults). Any registered Genesis role name
 * is accepted, so a contributed transform has its ablation without further code.
 * @throws Error for a name that is neither `all`, `identity` nor a registered Genesis role.
 */
export function genesisAblation(which: GenesisAblation): GenesisConfig {
  let c: GenesisConfig = { ...GENESIS_DEFAULTS };
  if (which === "all") return c;
  const roles = genesisRoles().map((r) => r.role);
  const only = which === "identity" ? null : roleNamed(which, "genesisAblation");
  for (const role of roles) {
    const keep = role === only || (role.pairwise === true && which !== "identity");
    c = withEnabled(c, role, keep);
  }
  return c;
}

/**
 * Config that applies the corruption `name` alone, **always** (its stage rate 1) and without
 * flips: one case of the per-corruption breakdown (`restorationBreakdown` in
 * `@models-genesis/train`). For a member of a multi-member stage (in-/out-painting) the other
 * members are off, so it is always the one chosen.
 * @throws Error when `name` is not a registered Genesis role.
 */
export function genesisIsolation(name: string): GenesisConfig {
  const only = roleNamed(name, "genesisIsolation");
  let c: GenesisConfig = { ...GENESIS_DEFAULTS };
  for (const { role } of genesisRoles()) c = withEnabled(c, role, role === only);
  return withRate(c, only, 1);
}

/**
 * Everything drawn for one pair. `spatial` (applied to the cube to make the target, then to the
 * input) and `corruptions` (applied to the input only) are the applied transforms in order, as
 * registered names and params: `applyGenesisPairInto` replays them. `flip`, `localShuffle`,
 * `nonlinear` and `paint` are views of the built-ins' params (`null` = not applied).
 */
export interface GenesisPairParams {
  shape: Shape3;
  spatial: AppliedTransform[];
  corruptions: AppliedTransform[];
  flip: GenesisFlipParams;
  localShuffle: LocalShuffleParams | null;
  nonlinear: NonlinearParams | null;
  paint: { kind: "inPaint" | "outPaint"; params: PaintParams } | null;
}

/** A generated pair: `input` = transformed, `target` = the (flipped) original. float32, C order (x, y, z). */
export interface GenesisPair {
  input: Float32Array;
  target: Float32Array;
  params: GenesisPairParams;
  history: AppliedTransform[];
}

function resolve(config: Partial<GenesisConfig>): GenesisConfig {
  const c = { ...GENESIS_DEFAULTS, ...config };
  for (const k of ["flipRate", "localRate", "nonlinearRate", "paintRate", "inpaintRate"] as const) {
    if (!(c[k] >= 0 && c[k] <= 1))
      throw new Error(`transforms/genesisPair: ${k} must be in [0, 1], got ${c[k]}`);
  }
  for (const [k, v] of Object.entries(c.rates ?? {})) {
    if (!(v >= 0 && v <= 1))
      throw new Error(`transforms/genesisPair: rates.${k} must be in [0, 1], got ${v}`);
  }
  return c;
}

/** One stage of the Genesis pipeline (see {@link genesisStages}). */
export interface GenesisStage {
  /** Stage name (`flip`, `localShuffle`, `nonlinear`, `paint`, or a contributed stage). */
  name: string;
  /** Applied to input and target alike (the flip) rather than to the input only. */
  pairwise: boolean;
  /** The stage as a transform: `withProb(rate, member)` or `withProb(rate, oneOf(members))`; pairwise stages ungated. */
  transform: Transform<Image3D, unknown>;
  /** Registered names and minimum axis lengths of the members that can apply (rate > 0, weight > 0). */
  active: { transform: string; minAxis?: number }[];
}

/**
 * The Genesis pair as a composition of registered transforms: one stage per Genesis stage of the
 * registry, in registration order. A single-member stage is `withProb(rate, t)`; a multi-member
 * stage is `withProb(rate, oneOf([[w₁, t₁], …]))` (in-/out-painting: weights inpaintRate and
 * 1 − inpaintRate); a `pairwise` stage (the flip) is its transform built with the rate. A
 * switched-off member gets weight 0 (rate 0 when the whole stage is off); when the switched-on
 * members' weights sum to 0 each gets weight 1 (the single one left is always chosen). Every
 * stage keeps its draws when off (a `random()` that never passes), so the draw order matches the
 * reference whatever is switched off.
 * @throws Error when a rate is outside [0, 1].
 */
export function genesisStages(config: Partial<GenesisConfig> = {}): GenesisStage[] {
  const c = resolve(config);
  const groups = new Map<string, { transform: string; role: GenesisRole }[]>();
  for (const r of genesisRoles()) {
    const s = stageOf(r.role);
    const g = groups.get(s);
    if (g) g.push(r);
    else groups.set(s, [r]);
  }
  const stages: GenesisStage[] = [];
  for (const [name, members] of groups) {
    const first = members[0].role;
    const on = members.map((m) => isEnabled(c, m.role));
    const rate = on.some(Boolean) ? stageRate(c, first) : 0;
    const make = (m: { transform: string; role: GenesisRole }) =>
      createTransform(m.transform, m.role.options?.(c, rate)) as Transform<Image3D, unknown>;
    if (first.pairwise) {
      if (members.length > 1)
        throw new Error(`transforms/genesisStages: pairwise stage "${name}" has several members`);
      stages.push({ name, pairwise: true, transform: make(members[0]), active: [] });
      continue;
    }
    let weights = members.map((m, i) => {
      if (!on[i]) return 0;
      const w = m.role.weight ?? 1;
      return typeof w === "function" ? w(c) : w;
    });
    if (!weights.some((w) => w > 0)) weights = on.map((o) => (o || !on.some(Boolean) ? 1 : 0));
    const inner =
      members.length === 1
        ? make(members[0])
        : (oneOf(members.map((m, i) => [weights[i], make(m)] as const)) as Transform<Image3D, unknown>);
    // rate > 0 implies some member is on, and then only switched-on members have weight > 0
    const active =
      rate > 0
        ? members
            .filter((_, i) => weights[i] > 0)
            .map((m) => ({ transform: m.transform, minAxis: m.role.minAxis }))
        : [];
    stages.push({
      name,
      pairwise: false,
      transform: withProb(rate, inner) as Transform<Image3D, unknown>,
      active,
    });
  }
  return stages;
}

/** The built-in params of one applied transform, for the legacy views of {@link GenesisPairParams}. */
function paramsOf(h: readonly AppliedTransform[], name: string): unknown {
  return h.find((e) => e.name === name)?.params ?? null;
}

/**
 * Draw all params of one Genesis pair: each stage of {@link genesisStages} samples in turn from
 * `rng` — with the built-ins the reference's order (`pytorch/utils.py`, `generate_pair`): flips;
 * `random() ≥ local_rate` → skip, else blocks; `random() ≥ nonlinear_rate` → skip, else the
 * curve; `random() < paint_rate` then `random() < inpaint_rate` → in-painting, else out-painting.
 * Cheap: no voxel is touched.
 *
 * @param shape cube shape (x, y, z), e.g. (64, 64, 32).
 * @throws Error when an axis is too short for a transform that can apply (message names it and the minimum).
 */
export function sampleGenesisPair(
  rng: Rng,
  shape: Shape3,
  config: Partial<GenesisConfig> = {},
): GenesisPairParams {
  const stages = genesisStages(config);
  for (const s of stages) {
    for (const a of s.active) if (a.minAxis !== undefined) checkMinSize(a.transform, shape, a.minAxis);
  }
  const spatial: AppliedTransform[] = [];
  const corruptions: AppliedTransform[] = [];
  let flip: GenesisFlipParams | null = null;
  for (const s of stages) {
    const p = s.transform.sample(rng, shape);
    if (s.pairwise && s.transform.name === "genesisFlip") flip = p as GenesisFlipParams;
    (s.pairwise ? spatial : corruptions).push(...historyOf(s.transform, p));
  }
  const paintEntry = corruptions.find((e) => e.name === "inPaint" || e.name === "outPaint");
  return {
    shape: [shape[0], shape[1], shape[2]],
    spatial,
    corruptions,
    flip: flip ?? { mode: resolve(config).flipMode, draws: [] },
    localShuffle: paramsOf(corruptions, "localPixelShuffle") as LocalShuffleParams | null,
    nonlinear: paramsOf(corruptions, "nonlinearIntensity") as NonlinearParams | null,
    paint: paintEntry
      ? { kind: paintEntry.name as "inPaint" | "outPaint", params: paintEntry.params as PaintParams }
      : null,
  };
}

/** The applied transforms of a pair's params, in order: `spatial` then `corruptions`. */
export function genesisHistory(p: GenesisPairParams): AppliedTransform[] {
  return [...p.spatial, ...p.corruptions];
}

/**
 * Deterministically build the pair from a cube and drawn params into caller-owned buffers
 * (e.g. `subarray` views of a batch): target = the `spatial` transforms of the cube; input = the
 * `corruptions` of the target, in order, each replayed by its registered transform's `applyInto`
 * fast path (in place after the first; `apply` + copy for a transform without one).
 * No allocation beyond small scratch; `cube` is not modified and must not alias the outputs.
 * @param cube float32, C order (x, y, z) with `params.shape`.
 * @throws Error when a buffer length does not match the shape.
 */
export function applyGenesisPairInto(
  cube: Float32Array,
  params: GenesisPairParams,
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
  let src = cube;
  for (const e of params.spatial) {
    applyIntoOf(defaultTransform(e.name), src, target, shape, e.params);
    src = target;
  }
  if (src !== target) target.set(src);
  src = target;
  for (const e of params.corruptions) {
    applyIntoOf(defaultTransform(e.name), src, input, shape, e.params);
    src = input;
  }
  if (src !== input) input.set(src);
}

/**
 * Deterministically build the pair from a cube and drawn params (new arrays); see
 * {@link applyGenesisPairInto}.
 */
export function applyGenesisPair(
  cube: Float32Array,
  params: GenesisPairParams,
): { input: Float32Array; target: Float32Array } {
  const n = numel(params.shape);
  const input = new Float32Array(n);
  const target = new Float32Array(n);
  applyGenesisPairInto(cube, params, input, target);
  return { input, target };
}

/**
 * One Models Genesis training pair (`pytorch/utils.py`, `generate_pair`, per sample):
 * flip (input and target together), local pixel shuffling, non-linear intensity transform,
 * in- or out-painting, at the configured rates (defaults {@link GENESIS_DEFAULTS}).
 *
 * @param cube float32 voxels in [0, 1], C order over `shape` (x, y, z); not modified.
 * @param shape e.g. (64, 64, 32); every axis ≥ 14 with painting on (see `MIN_AXIS`).
 * @param rng the explicit generator; same seed → same pair.
 * @returns `input` (transformed) and `target` (flipped original), both float32 with `shape`,
 *   plus the drawn params and the applied-transform history.
 */
export function genesisPair(
  cube: Float32Array,
  shape: Shape3,
  rng: Rng,
  config: Partial<GenesisConfig> = {},
): GenesisPair {
  const params = sampleGenesisPair(rng, shape, config);
  return { ...applyGenesisPair(cube, params), params, history: genesisHistory(params) };
}

/** Options of {@link genesisBatch}. */
export interface GenesisBatchOptions {
  /** Pairs per batch (reference `batch_size` 6 for pretraining, `pytorch/config.py`). */
  batchSize: number;
  /** Cube shape (x, y, z); default (64, 64, 32). */
  shape?: Shape3;
  /** Pair-generation config; defaults {@link GENESIS_DEFAULTS}. */
  config?: Partial<GenesisConfig>;
  /** Reuse these buffers (length batchSize · cube size) instead of allocating. */
  out?: { input: Float32Array; target: Float32Array };
}

/**
 * One pretraining batch as `generate_pair` builds it (`pytorch/utils.py`): shuffle the cube
 * indices (`random.shuffle(index)`), take the first `batchSize`, and make one Genesis pair per
 * cube. Cubes are taken without replacement within a batch.
 *
 * @param cubes float32 (N, x, y, z) in C order, e.g. from `readCubes`.
 * @returns `input` and `target` float32 (batchSize, x, y, z) — NDHWC with C = 1 for tfjs — and
 *   the cube `indices` used, in batch order.
 * @throws Error when `cubes` is not a whole number of cubes or holds fewer than `batchSize`.
 */
export function genesisBatch(
  cubes: Float32Array,
  rng: Rng,
  options: GenesisBatchOptions,
): { input: Float32Array; target: Float32Array; indices: number[]; params: GenesisPairParams[] } {
  const shape = options.shape ?? [64, 64, 32];
  const size = numel(shape);
  const { batchSize } = options;
  if (cubes.length % size !== 0) {
    throw new Error(
      `transforms/genesisBatch: ${cubes.length} values is not a whole number of [${shape.join(", ")}] cubes`,
    );
  }
  const n = cubes.length / size;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > n) {
    throw new Error(
      `transforms/genesisBatch: batchSize must be an integer in [1, ${n}] (the cube count), got ${batchSize}`,
    );
  }
  const input = options.out?.input ?? new Float32Array(batchSize * size);
  const target = options.out?.target ?? new Float32Array(batchSize * size);
  if (input.length !== batchSize * size || target.length !== batchSize * size) {
    throw new Error(`transforms/genesisBatch: out buffers must hold ${batchSize * size} values`);
  }
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const indices = order.slice(0, batchSize);
  const params = indices.map((c, b) => {
    const p = sampleGenesisPair(rng, shape, options.config);
    applyGenesisPairInto(
      cubes.subarray(c * size, (c + 1) * size),
      p,
      input.subarray(b * size, (b + 1) * size),
      target.subarray(b * size, (b + 1) * size),
    );
    return p;
  });
  return { input, target, indices, params };
}
