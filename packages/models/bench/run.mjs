// Whole-network benchmark (run after `pnpm build`): forward and one SGD training step of the
// PyTorch-variant Genesis 3-D U-Net (`pytorch/unet3d.py`) at width 32, batch 2, 64×64×32, printing
// one JSON object per line: name, backend, width, batch, median_s, gflops, peak_bytes
// (+ cpu_s and gflops_cpu: process CPU time, i.e. the time on an idle core when the machine is
// shared; reps, wasm_heap_bytes, num_tensors). Reference (PyTorch on the same 2-core machine): ≈ 3.3 s
// forward, ≈ 15 s per training step.
// Flags: --json (JSON lines only), --quick (1 rep, 32×32×16), --reps N, --width W, --batch B,
// --size R,C,D, --backend NAME (webgpu: one warm-up run first), --variant torch|keras, --only SUBSTRING
// (e.g. sgd-step).
import { initBackend } from "@models-genesis/kernels";
import * as tf from "@tensorflow/tfjs-core";
import { createModelFromConfig } from "../dist/index.js";

const args = process.argv.slice(2);
const argVal = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const quick = args.includes("--quick");
const jsonOnly = args.includes("--json");
const width = Number(argVal("--width", 32));
const batch = Number(argVal("--batch", 2));
const variant = argVal("--variant", "torch");
const size = argVal("--size", quick ? "32,32,16" : "64,64,32")
  .split(",")
  .map(Number);
const reps = Number(argVal("--reps", quick ? 1 : 3));
const log = (l) => jsonOnly || console.error(l);
const backend = await initBackend({ backend: argVal("--backend"), log });

/** Convolution FLOPs (2 per multiply-add) of one forward pass of the torch-variant plan. */
function forwardFlops() {
  const vox = (d) => (batch * size[0] * size[1] * size[2]) / 8 ** d;
  let f = 0;
  const conv = (d, cin, cout, k = 3) => {
    f += 2 * vox(d) * k ** 3 * cin * cout;
  };
  for (let d = 0; d < 4; d++) {
    conv(d, d === 0 ? 1 : width * 2 ** d, width * 2 ** d);
    conv(d, width * 2 ** d, width * 2 ** (d + 1));
  }
  for (let d = 2; d >= 0; d--) {
    const up = width * 2 ** (d + 2);
    if (variant === "torch") f += 2 * vox(d + 1) * up * 8 * up;
    conv(d, up + width * 2 ** (d + 1), width * 2 ** (d + 1));
    conv(d, width * 2 ** (d + 1), width * 2 ** (d + 1));
  }
  conv(0, 2 * width, 1, 1);
  return f;
}

const wasmHeap = () => tf.backend()?.wasm?.HEAPU8?.length ?? null;

const model = createModelFromConfig({ variant, spatialDims: 3, width });
const x = tf.randomUniform([batch, ...size, 1], 0, 1, "float32", 1);
const target = tf.randomUniform([batch, ...size, 1], 0, 1, "float32", 2);
const lr = 0.1;
const vars = [...model.trainableWeights.values()];

// Reads are asynchronous: webgpu has no synchronous read in Node (and a read ends the GPU work).
async function forward() {
  const y = model.forward(x, { training: true });
  await y.data();
  y.dispose();
}

async function trainStep() {
  const { value, grads } = tf.variableGrads(() => {
    const y = model.forward(x, { training: true });
    return tf.mean(tf.square(tf.sub(y, target)));
  }, vars);
  tf.tidy(() => {
    for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], lr)));
  });
  await value.data();
  tf.dispose([value, ...Object.values(grads)]);
}

const only = argVal("--only");

async function bench(name, flops, fn) {
  if (only && !name.includes(only)) return;
  const times = [];
  const cpus = [];
  let peak = 0;
  let gpuPeak = null;
  if (backend === "webgpu") await fn(); // warm-up: compiles the shaders
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const info = await tf.profile(fn);
    times.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1e6);
    peak = Math.max(peak, info.peakBytes);
    const m = tf.memory();
    if (m.numBytesAllocatedInGPU !== undefined) gpuPeak = Math.max(gpuPeak ?? 0, m.numBytesAllocatedInGPU);
    log(`${name}: rep ${i + 1} ${times.at(-1).toFixed(2)} s`);
  }
  times.sort((a, b) => a - b);
  cpus.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const cpuMedian = cpus[Math.floor(cpus.length / 2)];
  console.log(
    JSON.stringify({
      name,
      backend,
      width,
      batch,
      median_s: +median.toFixed(3),
      gflops: +(flops / median / 1e9).toFixed(2),
      peak_bytes: peak,
      // CPU seconds of this (single-threaded) process: the wall time on an otherwise idle core
      cpu_s: +cpuMedian.toFixed(3),
      gflops_cpu: +(flops / cpuMedian / 1e9).toFixed(2),
      reps: times.length,
      size: size.join("x"),
      wasm_heap_bytes: wasmHeap(),
      // webgpu: bytes of GPU buffers allocated (tensors + the buffer pool) after the reps
      gpu_bytes: gpuPeak,
      num_tensors: tf.memory().numTensors,
    }),
  );
}

const f = forwardFlops();
log(
  `genesis ${variant} U-Net width ${width} batch ${batch} ${size.join("x")}: ${(f / 1e9).toFixed(1)} GFLOP forward (convolutions)`,
);
await bench(`unet3d-${variant} forward ${size.join("x")}`, f, forward);
await bench(`unet3d-${variant} sgd-step ${size.join("x")}`, 3 * f, trainStep);
model.dispose();
tf.dispose([x, target]);
