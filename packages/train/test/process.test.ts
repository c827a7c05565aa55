import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";
import { readCheckpoint } from "../src/index.js";
import { processSetup, useCpu, weightsOf } from "./helpers.js";

const here = dirname(fileURLToPath(import.meta.url));
let childJs = "";
let reference: { weights: Record<string, number[]>; history: unknown[] };

beforeAll(async () => {
  await useCpu();
  const out = mkdtempSync(join(tmpdir(), "child-"));
  childJs = join(out, "child.mjs");
  await build({
    entryPoints: [join(here, "fixtures", "child-train.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: childJs,
    conditions: ["source"],
    logLevel: "error",
    ignoreAnnotations: true, // keep side-effect imports (backend registration) despite "sideEffects": false
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  const t = processSetup();
  const r = await t.run();
  reference = { weights: weightsOf(t.model), history: r.history.map((h) => [h.trainLoss, h.valLoss, h.lr]) };
});

/** Start the child; `onLine` sees each stdout line; resolves with the exit code/signal. */
function runChild(dir: string, onLine?: (line: string, child: ChildProcess) => void) {
  const child = spawn(process.execPath, [childJs, dir], { stdio: ["ignore", "pipe", "pipe"] });
  let buf = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    let i = buf.indexOf("\n");
    while (i >= 0) {
      onLine?.(buf.slice(0, i), child);
      buf = buf.slice(i + 1);
      i = buf.indexOf("\n");
    }
  });
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, stderr: err })),
  );
}

const final = (dir: string) => JSON.parse(readFileSync(join(dir, "final.json"), "utf8"));

describe("real processes", () => {
  it("kill -9 in the middle of epoch 2, then --resume: the same weights and losses as an uninterrupted run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kill9-"));
    const killed = await runChild(dir, (line, child) => {
      if (line === "step 2 2") child.kill("SIGKILL");
    });
    expect(killed.signal).toBe("SIGKILL");
    expect(existsSync(join(dir, "final.json"))).toBe(false);
    const ck = await readCheckpoint(join(dir, "last.ckpt")); // epoch 1's end survived intact
    expect(ck.header.trainer.epoch).toBe(2);
    const done = await runChild(dir);
    expect(done.code, done.stderr).toBe(0);
    const f = final(dir);
    expect(f.stopReason).toBe("completed");
    expect(f.weights).toEqual(reference.weights);
    expect(f.history).toEqual(reference.history);
  });

  it("Ctrl-C (SIGINT) writes a mid-epoch checkpoint and exits 130; resuming matches the uninterrupted run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sigint-"));
    let sent = false;
    const stopped = await runChild(dir, (line, child) => {
      if (line === "step 1 1" && !sent) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(final(dir).stopReason).toBe("interrupted");
    const ck = await readCheckpoint(join(dir, "last.ckpt"));
    expect(ck.header.trainer.epoch).toBe(1);
    expect(ck.header.trainer.step as number).toBeGreaterThanOrEqual(1);
    expect(ck.header.trainer.step as number).toBeLessThan(4);
    const done = await runChild(dir);
    expect(done.code, done.stderr).toBe(0);
    expect(final(dir).weights).toEqual(reference.weights);
    expect(final(dir).history).toEqual(reference.history);
  });
});
