// ONNX Runtime against TensorFlow.js (run after `pnpm build`; part of `pnpm bench`), one JSON
// object per line: name, engine, seconds (median), CPU seconds of all threads (cpu_s: the work done,
// a fairer figure than wall time on a shared machine), peak memory (max RSS of a fresh process per case).
//  - forward: the PyTorch-variant Genesis 3-D U-Net, width 32, batch 2, 64×64×32 (issue #14;
//    PyTorch on the project's 2-core machine: ≈ 2.8–3.3 s), running-statistics BatchNorm;
//  - predict-volume: whole-volume prediction (`predictVolume`: sliding window 64×64×32, overlap
//    0.5, Gaussian blending) of the shared 1.5 mm chest CT
//    (`../shared/data/ct/chest_cta_totalseg_pulmonary/ct.nii.gz`, 122×102×112; skipped with a note
//    when the shared folder is absent) with a width-32 model.
// Flags: --json (JSON lines only), --quick (width 8, 32×32×16, the sample CT of apps/cli, 1 rep),
// --reps N (forward, default 3), --only SUBSTRING (forward | predict-volume), --engines onnx,tfjs,
// --backend NAME (tfjs backend, default: the fastest available), --threads N (ONNX Runtime intra-op).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../../..");
const args = process.argv.slice(2);
const argVal = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const quick = args.includes("--quick");
const jsonOnly = args.includes("--json");
const log = (l) => jsonOnly || console.error(l);

if (args.includes("--case")) {
  await runCase(argVal("--case"), argVal("--engine"));
  process.exit(0);
}

const sharedDir = process.env.GENESIS_SHARED_DIR ?? path.join(repoRoot, "..", "shared");
const cases = ["forward", "predict-volume"].filter((c) => !argVal("--only") || c.includes(argVal("--only")));
const engines = argVal("--engines", "onnx,tfjs").split(",");
let failed = 0;
for (const c of cases) {
  for (const engine of engines) {
    // A fresh process per case: its max RSS is this case's peak memory.
    const r = spawnSync(
      process.execPath,
      [fileURLToPath(import.meta.url), ...args, "--case", c, "--engine", engine],
      {
        stdio: ["ignore", "inherit", "inherit"],
        env: { ...process.env, GENESIS_SHARED_DIR: sharedDir },
      },
    );
    if (r.status !== 0) failed++;
  }
}
process.exit(failed ? 1 : 0);

async function runCase(name, engineName) {
  const { initBackend } = await import("@models-genesis/kernels");
  const tf = await import("@tensorflow/tfjs-core");
  const { createModelFromConfig, defaultMetadata } = await import("@models-genesis/models");
  const { predictVolume, tfjsEngine } = await import("@models-genesis/inference");
  const { createOnnxEngine, exportOnnx, probeOnnxRuntime } = await import("../dist/index.js");
  const width = Number(argVal("--width", quick ? 8 : 32));
  const batch = Number(argVal("--batch", 2));
  const size = argVal("--size", quick ? "32,32,16" : "64,64,32")
    .split(",")
    .map(Number);
  const reps = Number(argVal("--reps", quick ? 1 : 3));
  const backend = await initBackend({ backend: argVal("--backend"), log: () => {} });
  if (engineName === "onnx") {
    const p = await probeOnnxRuntime();
    if (!p.ok) {
      log(`${name} onnx: skipped (${p.reason})`);
      return;
    }
  }
  const bnMode = "running-statistics";
  const model = createModelFromConfig({ variant: "torch", width, bnMode }, { seed: 1 });
  const metadata = defaultMetadata(model, { inferenceBnMode: bnMode, extra: { patchSize: size } });
  const threads = argVal("--threads") ? Number(argVal("--threads")) : undefined;
  const engine =
    engineName === "onnx"
      ? await createOnnxEngine(await exportOnnx(model, metadata, { bnMode }), { bnMode, threads })
      : tfjsEngine(model, bnMode);
  const label = engineName === "onnx" ? engine.description : `tfjs ${backend}`;
  const out = (fields) =>
    console.log(
      JSON.stringify({
        name,
        engine: engineName,
        runtime: label,
        width,
        ...fields,
        max_rss_bytes: process.resourceUsage().maxRSS * 1024,
        cores: availableParallelism(),
      }),
    );
  if (name === "forward") {
    const shape = [batch, ...size, 1];
    const x = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(
      (_, i) => ((i * 2654435761) % 1000) / 1000,
    );
    await engine.forward(x, shape); // warm-up (ORT plans its kernels on the first run)
    const times = [];
    const cpus = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await engine.forward(x, shape);
      times.push((performance.now() - t0) / 1000);
      const c = process.cpuUsage(c0);
      cpus.push((c.user + c.system) / 1e6);
      log(`forward ${label}: rep ${i + 1} ${times.at(-1).toFixed(2)} s`);
    }
    times.sort((a, b) => a - b);
    cpus.sort((a, b) => a - b);
    out({
      batch,
      size: size.join("x"),
      median_s: +times[Math.floor(times.length / 2)].toFixed(3),
      // CPU seconds of all the process's threads: on a shared machine, the work done
      cpu_s: +cpus[Math.floor(cpus.length / 2)].toFixed(3),
      reps,
    });
  } else {
    const { readVolume } = await import("@models-genesis/volume-io");
    const file = quick
      ? path.join(repoRoot, "apps/cli/sample/chest-ct/copdgene_10002K_ct64.nii.gz")
      : path.join(process.env.GENESIS_SHARED_DIR, "data/ct/chest_cta_totalseg_pulmonary/ct.nii.gz");
    if (!existsSync(file)) {
      log(
        `predict-volume: skipped (${file} not found: the 1.5 mm chest CT lives in ../shared or GENESIS_SHARED_DIR)`,
      );
      return;
    }
    const vol = await readVolume(file);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const { info } = await predictVolume(model, metadata, vol, { patchSize: size, engine, batchSize: 1 });
    const s = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    log(`predict-volume ${label}: ${info.patches} patches, ${s.toFixed(1)} s`);
    out({
      volume: path.basename(path.dirname(file)),
      shape: vol.shape.join("x"),
      patch: size.join("x"),
      patches: info.patches,
      seconds: +s.toFixed(2),
      cpu_s: +((c.user + c.system) / 1e6).toFixed(2),
    });
  }
  await engine.dispose?.();
  model.dispose();
  void tf;
}
