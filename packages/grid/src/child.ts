/**
 * The worker process of the local runner (`runLocal`), started with `child_process.fork`: it runs
 * the cells its parent sends over IPC one at a time (`{ type: "run", cell, workRoot }`) and answers
 * `{ type: "result", result }`, forwarding log lines as `{ type: "log", line }`. Built to
 * `dist/child.js`.
 */
import { type AnyCell, executeCell } from "./results.js";

type Msg = { type: "run"; cell: AnyCell; workRoot: string } | { type: "stop" };

const send = (m: unknown) => new Promise<void>((res) => process.send?.(m, undefined, undefined, () => res()));

process.on("message", (m: Msg) => {
  if (m.type === "stop") {
    process.disconnect?.();
    return;
  }
  executeCell(m.cell, m.workRoot, (line) => void send({ type: "log", line }))
    .then((result) => send({ type: "result", result }))
    .catch((e: unknown) => send({ type: "error", message: e instanceof Error ? e.message : String(e) }));
});
// the parent died (killed worker): stop too, leaving the cell's checkpoint for the retry
process.on("disconnect", () => process.exit(0));
void send({ type: "ready" });
