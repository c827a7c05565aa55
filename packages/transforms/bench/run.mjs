#!/usr/bin/env node
// Benchmarks of @models-genesis/transforms. Prints one JSON object per line on stdout:
// { name, median_s, runs, ... }. Single-threaded. Run after `pnpm build` (uses dist/).
// Usage: node bench/run.mjs [--json] [--filter SUBSTRING] [--quick]
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readVolume } from "@models-genesis/volume-io";
import {
  applyGenesisPairInto,
  extractCubes,
  GENESIS_DEFAULTS,
  genesisPair,
  inPaint,
  localPixelShuffle,
  nonlinearIntensity,
  outPaint,
  Rng,
  sampleGenesisPair,
} from "../dist/index.js";

const args = process.argv.slice(2);
const filter = args.includes("--filter") ? args[args.indexOf("--filter") + 1] : "";
const quick = args.includes("--quick");
const here = path.dirname(fileURLToPath(import.meta.url));
const shared = process.env.GENESIS_SHARED_DIR ?? path.resolve(here, "../../../../shared");
const ctFile = path.join(shared, "data/ct/chest_cta_totalseg_aorta/ct.nii.gz");
const haveCt = existsSync(ctFile);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Time `fn` (one call = one unit of work): `rounds` rounds of `inner` calls after a warm-up. */
function timeIt(fn, { rounds = 15, inner = 20, warm = 20 } = {}) {
  for (let i = 0; i < warm; i++) fn(i);
  const per = [];
  const cpu = [];
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < inner; i++) fn(i);
    per.push(Number(process.hrtime.bigint() - t0) / 1e9 / inner);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6 / inner);
  }
  return { median_s: median(per), min_s: Math.min(...per), median_cpu_s: median(cpu), runs: rounds * inner };
}

function emit(obj) {
  if (filter && !obj.name.includes(filter)) return;
  // wall time on a shared machine is inflated by other processes: report the load with every line
  process.stdout.write(
    `${JSON.stringify({ ...obj, load_avg_1m: Number(os.loadavg()[0].toFixed(2)), cpus: os.cpus().length })}\n`,
  );
}
const want = (name) => !filter || name.includes(filter) || filter.includes(name);

const SHAPE = [64, 64, 32];
const N = 64 * 64 * 32;

// A real 64×64×32 cube: the HU-windowed chest CTA at voxel (28, 31, 60), else a synthetic one.
let ct = null;
const cube = new Float32Array(N);
let cubeSource = "synthetic";
if (haveCt) {
  ct = await readVolume(ctFile);
  const [, ny, nz] = ct.shape;
  for (let i = 0; i < 64; i++)
    for (let j = 0; j < 64; j++)
      for (let d = 0; d < 32; d++) {
        const hu = ct.data[((28 + i) * ny + 31 + j) * nz + 60 + d];
        cube[(i * 64 + j) * 32 + d] = (Math.min(Math.max(hu, -1000), 1000) + 1000) / 2000;
      }
  cubeSource = "chest_cta_totalseg_aorta";
} else {
  const r = new Rng(1);
  for (let i = 0; i < N; i++) cube[i] = r.float32();
}

const rounds = quick ? 5 : 15;
const inner = quick ? 5 : 20;

if (want("genesis_pair")) {
  const rng = new Rng(1);
  emit({
    name: "genesis_pair_64x64x32_default_rates",
    cube: cubeSource,
    ...timeIt(() => genesisPair(cube, SHAPE, rng), { rounds, inner }),
    note: "genesisPair(): sample + apply, new output arrays; reference numpy ≈ 0.065 s",
  });
  const inBuf = new Float32Array(N);
  const tgBuf = new Float32Array(N);
  const rng2 = new Rng(1);
  emit({
    name: "genesis_pair_64x64x32_default_rates_into_buffers",
    cube: cubeSource,
    ...timeIt(() => applyGenesisPairInto(cube, sampleGenesisPair(rng2, SHAPE), inBuf, tgBuf), {
      rounds,
      inner,
    }),
    note: "sampleGenesisPair + applyGenesisPairInto into preallocated batch slots",
  });
}

if (want("genesis_pair_64x64x32_default_rates_random_float_cube")) {
  const r = new Rng(9);
  const noise = new Float32Array(N);
  for (let i = 0; i < N; i++) noise[i] = r.random();
  const rng = new Rng(1);
  emit({
    name: "genesis_pair_64x64x32_default_rates_random_float_cube",
    cube: "uniform random float32 (every value distinct: worst case for the Bézier memo)",
    ...timeIt(() => genesisPair(noise, SHAPE, rng), { rounds, inner }),
  });
}

const alone = {
  localPixelShuffle: localPixelShuffle(),
  nonlinearIntensity: nonlinearIntensity(),
  inPaint: inPaint(),
  outPaint: outPaint(),
};
for (const [name, t] of Object.entries(alone)) {
  const bench = `transform_${name}_64x64x32_applied`;
  if (!want(bench)) continue;
  const rng = new Rng(2);
  const img = { data: cube, shape: SHAPE };
  emit({
    name: bench,
    cube: cubeSource,
    ...timeIt(() => t.apply(img, t.sample(rng, SHAPE)), { rounds, inner }),
  });
}
if (want("transform_genesisFlip")) {
  const rng = new Rng(3);
  const cfg = { ...GENESIS_DEFAULTS, flipRate: 1, localShuffle: false, nonlinear: false, paintRate: 0 };
  emit({
    name: "transform_genesisFlip_64x64x32_three_draws_with_target",
    cube: cubeSource,
    ...timeIt(() => genesisPair(cube, SHAPE, rng, cfg), { rounds, inner }),
  });
}

const extractName = haveCt
  ? "cube_extraction_512x512x300_scale32_tiled_from_chest_cta_totalseg_aorta"
  : "cube_extraction_512x512x300_scale32_synthetic";
if (want("cube_extraction")) {
  // A 512×512×300 int16 CT: the real 120×126×164 chest CTA tiled periodically (mirrored at odd tiles).
  const [X, Y, Z] = [512, 512, 300];
  const big = new Int16Array(X * Y * Z);
  if (ct) {
    const [sx, sy, sz] = ct.shape;
    const m = (v, n) => {
      const t = Math.floor(v / n);
      const r = v % n;
      return t % 2 ? n - 1 - r : r;
    };
    for (let x = 0; x < X; x++)
      for (let y = 0; y < Y; y++) {
        const base = (m(x, sx) * sy + m(y, sy)) * sz;
        const o = (x * Y + y) * Z;
        for (let z = 0; z < Z; z++) big[o + z] = ct.data[base + m(z, sz)];
      }
  } else {
    const r = new Rng(4);
    for (let i = 0; i < big.length; i++) big[i] = r.below(2000) - 1000;
  }
  const vol = { data: big, shape: [X, Y, Z], channels: 1 };
  const times = [];
  let last;
  for (let k = 0; k < (quick ? 1 : 3); k++) {
    const t0 = process.hrtime.bigint();
    last = extractCubes(vol, new Rng(1 + k), { scale: 32 });
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  emit({
    name: extractName,
    median_s: median(times),
    runs: times.length,
    cubes: last.count,
    attempts: last.attempts,
    note: "reference defaults (borders 100/30, −150 HU, 0.15, give up after 50×scale); the reference's per-voxel Python loops take minutes",
  });
}
