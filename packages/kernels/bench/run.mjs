// Per-op benchmarks of @models-genesis/kernels (run after `pnpm build`): one JSON object per line
// with name, backend, width, batch, median_s, gflops, peak_bytes (+ cpu_s / gflops_cpu: process CPU
// time, i.e. the time on an idle core when the machine is shared; reps, wasm_heap_bytes).
// On webgpu stock tf.conv3d runs beside ours at the same sizes, and gpu_bytes is tfjs-webgpu's
// allocated GPU buffer bytes after the case.
// Flags: --json (only JSON lines, no header), --quick (fewer, smaller cases, fewer reps),
// --backend NAME (default: initBackend's choice), --only SUBSTRING (filter case names).
import * as tf from "@tensorflow/tfjs-core";
import {
  batchNormRelu,
  conv3d,
  convTranspose3dStride2,
  initBackend,
  maxPool3d,
  setKernelImpl,
  upsampleNearest3d,
} from "../dist/index.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const jsonOnly = args.includes("--json");
const argVal = (k) => (args.includes(k) ? args[args.indexOf(k) + 1] : undefined);
const only = argVal("--only");
const backend = await initBackend({ backend: argVal("--backend"), log: (l) => jsonOnly || console.error(l) });
const WIDTH = 32;
const BATCH = 2;

function wasmHeapBytes() {
  const b = tf.backend();
  return b?.wasm?.HEAPU8?.length ?? null;
}

/**
 * Runs fn reps times (+1 warm-up unless reps === 1; on webgpu always, to compile the shaders); fn
 * returns tensors to read and dispose. Reads are asynchronous (webgpu has no synchronous read in Node).
 */
async function measure(fn, reps) {
  const times = [];
  const cpus = [];
  let peak = 0;
  const warm = reps > 1 || backend === "webgpu";
  const total = warm ? reps + 1 : 1;
  for (let i = 0; i < total; i++) {
    const start = tf.memory().numBytes;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const outs = fn();
    for (const o of outs) await o.data();
    const dt = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    peak = Math.max(peak, tf.memory().numBytes - start);
    tf.dispose(outs);
    if (!warm || i > 0) {
      times.push(dt);
      cpus.push((c.user + c.system) / 1e6);
    }
  }
  times.sort((a, b) => a - b);
  cpus.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], cpu: cpus[Math.floor(cpus.length / 2)], times };
}

async function bench(name, flops, fn, reps = quick ? 2 : 3) {
  if (only && !name.includes(only)) return;
  const peak = await (async () => {
    // tf.profile keeps the result; measure its peak separately from timing
    const r = await tf.profile(() => {
      const outs = fn();
      tf.dispose(outs);
    });
    return r.peakBytes;
  })();
  const { median, cpu, times } = await measure(fn, reps);
  const m = tf.memory();
  console.log(
    JSON.stringify({
      name,
      backend,
      width: WIDTH,
      batch: BATCH,
      median_s: +median.toFixed(4),
      gflops: flops ? +(flops / median / 1e9).toFixed(2) : null,
      peak_bytes: peak,
      cpu_s: +cpu.toFixed(4),
      gflops_cpu: flops ? +(flops / cpu / 1e9).toFixed(2) : null,
      reps: times.length,
      wasm_heap_bytes: wasmHeapBytes(),
      gpu_bytes: m.numBytesAllocatedInGPU ?? null,
    }),
  );
}

const rnd = (shape) => tf.randomUniform(shape, -1, 1, "float32", 1);
const convFlops = (n, d, cin, cout, k) => 2 * n * d[0] * d[1] * d[2] * k * k * k * cin * cout;

/**
 * conv3d forward / backward (input + filter + bias gradients) of ours; on webgpu also stock
 * tf.conv3d (tfjs-backend-webgpu's Conv3DNaiveProgram and its gradient kernels) at the same size.
 */
async function convCase(tag, d, cin, cout, k = 3) {
  const x = rnd([BATCH, ...d, cin]);
  const w = rnd([k, k, k, cin, cout]);
  const b = rnd([cout]);
  const f = convFlops(BATCH, d, cin, cout, k);
  const shape = `${d.join("x")} ${cin}->${cout} k${k}`;
  const impls = backend === "webgpu" ? ["fast", "stock"] : ["fast"];
  for (const impl of impls) {
    setKernelImpl(impl);
    const who = impl === "fast" ? "ours" : "stock";
    await bench(`conv3d fwd ${who} ${tag} ${shape}`, f, () => [conv3d(x, w, b)]);
    const grads = () => tf.grads((xx, ww, bb) => tf.sum(conv3d(xx, ww, bb)))([x, w, b]);
    if (impl === "fast" && backend === "webgpu") {
      // both filter-gradient forms on the same adapter (split-k is the default on a hardware GPU)
      const before = process.env.GENESIS_FILTER_GRAD;
      for (const form of ["split-k", "plain"]) {
        process.env.GENESIS_FILTER_GRAD = form;
        await bench(`conv3d fwd+bwd ours ${form}-filter-grad ${tag} ${shape}`, 3 * f, grads);
      }
      if (before === undefined) delete process.env.GENESIS_FILTER_GRAD;
      else process.env.GENESIS_FILTER_GRAD = before;
    } else {
      await bench(`conv3d fwd+bwd ${who} ${tag} ${shape}`, 3 * f, grads);
    }
  }
  setKernelImpl("auto");
  tf.dispose([x, w, b]);
}

/** Stock tf.conv3d forward (and gradients) at a size reduced so that one rep finishes. */
async function stockConvCase(tag, n, d, cin, cout) {
  const x = rnd([n, ...d, cin]);
  const w = rnd([3, 3, 3, cin, cout]);
  const f = convFlops(n, d, cin, cout, 3);
  const shape = `${d.join("x")} ${cin}->${cout} k3 batch${n}`;
  setKernelImpl("stock");
  await bench(`conv3d fwd stock REDUCED ${tag} ${shape} 1rep`, f, () => [conv3d(x, w)], 1);
  setKernelImpl("fast");

  await bench(`conv3d fwd ours REDUCED ${tag} ${shape}`, f, () => [conv3d(x, w)]);
  tf.dispose([x, w]);
}

if (quick) {
  await convCase("L1", [32, 32, 16], 64, 64);
  if (backend !== "webgpu") await stockConvCase("L2", 1, [8, 8, 8], 64, 64);
} else {
  await convCase("enc-L0", [64, 64, 32], 32, 64);
  await convCase("enc-L1", [32, 32, 16], 64, 64);
  await convCase("dec-L1", [32, 32, 16], 384, 128);
  await convCase("dec-L2", [16, 16, 8], 256, 256);
  await convCase("enc-L3", [8, 8, 4], 256, 512);
  await convCase("head", [64, 64, 32], 64, 1, 1);
  if (backend !== "webgpu") await stockConvCase("L2", 1, [16, 16, 8], 64, 64);
}

// transposed conv 2x2x2 stride 2 (PyTorch up_tr128: 256 -> 256 from 16x16x8)
{
  const [a, c, cin] = quick ? [[16, 16, 8], 256, 256] : [[16, 16, 8], 256, 256];
  const x = rnd([BATCH, ...a, cin]);
  const w = rnd([2, 2, 2, c, cin]);
  const b = rnd([c]);
  const f = 2 * BATCH * a[0] * a[1] * a[2] * cin * 8 * c;
  await bench(`convTranspose3d fwd ours ${a.join("x")} ${cin}->${c}`, f, () => [
    convTranspose3dStride2(x, w, b),
  ]);
  await bench(`convTranspose3d fwd+bwd ours ${a.join("x")} ${cin}->${c}`, 3 * f, () =>
    tf.grads((xx, ww, bb) => tf.sum(convTranspose3dStride2(xx, ww, bb)))([x, w, b]),
  );
  const outShape = [BATCH, 2 * a[0], 2 * a[1], 2 * a[2], c];
  await bench(
    `convTranspose3d fwd stock tf.conv3dTranspose ${a.join("x")} ${cin}->${c}${backend === "wasm" ? " (wrong values on wasm)" : ""}`,
    f,
    () => [tf.conv3dTranspose(x, w, outShape, 2, "same")],
    1,
  );
  tf.dispose([x, w, b]);
}

// BatchNorm + ReLU at the largest activation (64 ch at 64x64x32), ours vs stock element-wise ops
{
  const d = quick ? [32, 32, 16] : [64, 64, 32];
  const ch = 64;
  const x = rnd([BATCH, ...d, ch]);
  const gamma = tf.ones([ch]);
  const beta = tf.zeros([ch]);
  const p = { gamma, beta, eps: 1e-5 };
  const stockBn = (xx, g, bb) => {
    const { mean, variance } = tf.moments(xx, [0, 1, 2, 3]);
    return tf.relu(tf.add(tf.mul(tf.div(tf.sub(xx, mean), tf.sqrt(tf.add(variance, 1e-5))), g), bb));
  };
  const tag = `${d.join("x")} ${ch}ch`;
  await bench(`batchNormRelu fwd ours ${tag}`, 0, () => {
    const r = batchNormRelu(x, p, "batch-statistics", true);
    return [r.y, r.batchMean, r.batchVariance];
  });
  await bench(`batchNormRelu fwd stock ${tag}`, 0, () => [stockBn(x, gamma, beta)]);
  await bench(`batchNormRelu fwd+bwd ours ${tag}`, 0, () =>
    tf.grads((xx, g, bb) => {
      const r = batchNormRelu(xx, { gamma: g, beta: bb, eps: 1e-5 }, "batch-statistics", true);
      tf.dispose([r.batchMean, r.batchVariance]);
      return tf.sum(r.y);
    })([x, gamma, beta]),
  );
  await bench(`batchNormRelu fwd+bwd stock ${tag}`, 0, () =>
    tf.grads((xx, g, bb) => tf.sum(stockBn(xx, g, bb)))([x, gamma, beta]),
  );
  await bench(`maxPool3d fwd ${tag}`, 0, () => [maxPool3d(x)]);
  await bench(`maxPool3d fwd+bwd ${tag}`, 0, () => tf.grads((xx) => tf.sum(maxPool3d(xx)))([x]));
  tf.dispose([x, gamma, beta]);
  const xs = rnd([BATCH, d[0] / 2, d[1] / 2, d[2] / 2, ch]);
  await bench(`upsampleNearest3d fwd+bwd ours ${d.map((v) => v / 2).join("x")} ${ch}ch`, 0, () =>
    tf.grads((xx) => tf.sum(upsampleNearest3d(xx)))([xs]),
  );
  xs.dispose();
}
