import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Kill process `pid` (SIGKILL) as soon as it is in the middle of a synthetic cell under `workRoot`:
 * its last logged start is by `pid` or a child of it and the cell's checkpoint is past step 0 but not finished.
 * Resolves with the cell id it was killed in.
 */
export function killMidCell(workRoot: string, pid: number, steps: number, kill: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const timer = setInterval(() => {
      if (Date.now() - t0 > 60_000) {
        clearInterval(timer);
        reject(new Error(`process ${pid} never was mid-cell`));
        return;
      }
      if (!existsSync(workRoot)) return;
      for (const id of readdirSync(workRoot)) {
        try {
          const events = readFileSync(join(workRoot, id, "events.log"), "utf8")
            .trim()
            .split("\n");
          const last = events[events.length - 1].split(" ");
          // the process itself, or its cell process (queue workers run cells in a child)
          if (Number(last[2]) !== pid && Number(last[3]) !== pid) continue;
          const { step } = JSON.parse(readFileSync(join(workRoot, id, "checkpoint.json"), "utf8"));
          if (step >= 1 && step <= steps - 2) {
            clearInterval(timer);
            kill();
            resolve(id);
            return;
          }
        } catch {
          // not started yet, or between writes
        }
      }
    }, 10);
  });
}
