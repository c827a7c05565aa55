import { activeBackendIsGpu, initBackend, webgpuAdapterSync } from "@models-genesis/kernels";
import * as tf from "@tensorflow/tfjs-core";
import type { Command } from "commander";

/**
 * `genesis backend [--backend NAME] [--json]`: starts the backend the other commands would use and
 * says which it is — for webgpu also the adapter and its buffer limits — then checks it computes
 * (a 2×2 matMul read back). Exit 1 with the one-line reason when the backend cannot start.
 */
export function register(program: Command): void {
  program
    .command("backend")
    .description("Start the compute backend the other commands use and print it (webgpu: adapter and limits)")
    .option(
      "--backend <name>",
      "tensorflow | webgpu | wasm | cpu (default: fastest available; env GENESIS_BACKEND)",
    )
    .option("--json", "print one JSON object")
    .action(async (o: { backend?: string; json?: boolean }) => {
      const lines: string[] = [];
      const name = await initBackend({ backend: o.backend, log: (l) => lines.push(l) });
      const y = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2]));
      const v = Array.from(await y.data());
      y.dispose();
      const computes = v.join(",") === "19,22,43,50";
      const adapter = name === "webgpu" ? webgpuAdapterSync() : null;
      const gpu = await activeBackendIsGpu();
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ backend: name, gpu, computes, adapter })}\n`);
      } else {
        for (const l of lines) process.stdout.write(`${l}\n`);
        process.stdout.write(
          `${name}: ${gpu ? "GPU" : adapter?.software ? "software adapter (CPU)" : "CPU"}; 2×2 matMul ${computes ? "correct" : `WRONG (${v})`}\n`,
        );
      }
      if (!computes) process.exitCode = 1;
    });
}
