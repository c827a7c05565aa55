/**
 * Test helper shared by the apps' end-to-end tests (apps/{bms,ecc,lcs}/test): run a task app
 * through `runTaskMain` with stderr captured, the preparation's result kept and every run's test
 * value collected.
 */
import { pathToFileURL } from "node:url";
import type { PreparedTask } from "../src/app.js";
import type { TaskDefinition, TaskMainOptions } from "../src/define.js";
import { runFinetune, runTaskMain } from "../src/main.js";

/** What {@link runAppCaptured} returns. */
export interface CapturedRun {
  code: number;
  /** Everything the app wrote to stderr. */
  err: string;
  prepared: PreparedTask;
  /** The test value of each run, in run order. */
  values: number[];
}

/**
 * Run `task` as the app at `appMain` (its `src/main.ts`) with `argv` (after `node main.js`),
 * preparing with `prepare` and fine-tuning with the runner's `runFinetune`.
 */
export async function runAppCaptured(
  task: TaskDefinition,
  appMain: string,
  argv: readonly string[],
  prepare: (o: TaskMainOptions, log: (line: string) => void) => Promise<PreparedTask>,
): Promise<CapturedRun> {
  let prepared: PreparedTask | undefined;
  const values: number[] = [];
  const err: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((s: string | Uint8Array) => {
    err.push(String(s));
    return true;
  }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await runTaskMain(["node", "main.js", ...argv], {
      ...task,
      appUrl: pathToFileURL(appMain).href,
      prepare: async (o, _sampleData, log) => {
        prepared = await prepare(o, log);
        return prepared;
      },
      finetune: async (req) => {
        const r = await runFinetune(req);
        values.push(r.value);
        return r;
      },
    });
  } finally {
    process.stderr.write = write;
  }
  return { code, err: err.join(""), prepared: prepared as PreparedTask, values };
}
