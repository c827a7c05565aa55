// Data-parallel training steps (run after `pnpm build`): seconds per Trainer step of a Genesis 3-D U-Net
// (PyTorch variant) restoring cubes under MSE with Adam, on 1 thread and on N threads (the batch split
// across model replicas on worker threads). One JSON line per thread count.
// Flags: --width W (8), --batch B (4), --size R,C,D (32,32,16), --steps S (4, after 1 warm-up step),
// --threads LIST (1,2), --backend NAME (default: fastest available).
import { initBackend } from "@models-genesis/kernels";
import { createModel } from "@models-genesis/models";
import { Adam, arrayBatchSource, mseLoss, Trainer } from "../dist/index.js";

const args = process.argv.slice(2);
const argVal = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const width = Number(argVal("--width", 8));
const batch = Number(argVal("--batch", 4));
const size = argVal("--size", "32,32,16").split(",").map(Number);
const steps = Number(argVal("--steps", 4));
const threadList = argVal("--threads", "1,2").split(",").map(Number);
const backend = await initBackend({ backend: argVal("--backend"), log: () => {} });

const per = size[0] * size[1] * size[2];
const n = batch * (steps + 1);
const x = Float32Array.from(
  { length: n * per },
  (_, i) => 0.5 + 0.4 * Math.sin(i * 0.013) * Math.cos(i * 0.0007),
);
const y = x.map((v) => Math.min(1, Math.max(0, 1.2 * v - 0.1)));
const shape = [...size, 1];

for (const threads of threadList) {
  const model = createModel({ variant: "torch", width }, { seed: 1 });
  const stamps = [];
  const t = new Trainer({
    model,
    optimizer: new Adam({ lr: 1e-3 }),
    loss: mseLoss,
    train: arrayBatchSource({
      x,
      y,
      sampleShapeX: shape,
      sampleShapeY: shape,
      batchSize: batch,
      shuffle: false,
    }),
    epochs: 1,
    seed: 1,
    threads,
    callbacks: [{ onBatchEnd: () => void stamps.push(performance.now()) }],
  });
  await t.run();
  model.dispose();
  const secs = (stamps.at(-1) - stamps[0]) / 1000 / (stamps.length - 1); // excludes the warm-up step
  console.log(
    JSON.stringify({
      bench: "train/data-parallel-step",
      backend,
      threads,
      width,
      batch,
      size: size.join("x"),
      steps: stamps.length - 1,
      seconds_per_step: Number(secs.toFixed(3)),
    }),
  );
}
