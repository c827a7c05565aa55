import { type ChildProcess, fork } from "node:child_process";
import { gridProgram } from "./local.js";
import type { AnyCell, CellResult } from "./results.js";

/**
 * A reusable worker process (`dist/child.js`) that runs one cell at a time off the caller's event
 * loop. Queue workers run cells through it so that a long synchronous training step (tfjs on wasm
 * blocks its thread for seconds) never stops BullMQ from renewing the job's lock — a blocked lock
 * would make a healthy job look stalled and run twice. The process exits when its parent dies
 * (IPC disconnect), so killing a worker kills its cell too.
 */
export class CellProcess {
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private pending:
    | { resolve: (r: CellResult) => void; reject: (e: Error) => void; log: (line: string) => void }
    | undefined;

  constructor(private readonly env: NodeJS.ProcessEnv = {}) {}

  private start(): Promise<void> {
    const child = fork(gridProgram("child"), [], {
      env: { ...process.env, ...this.env },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: [],
      serialization: "json",
    });
    this.child = child;
    const ready = new Promise<void>((resolve, reject) => {
      child.on("message", (m: { type: string; line?: string; result?: CellResult; message?: string }) => {
        if (m.type === "ready") resolve();
        else if (m.type === "log") this.pending?.log(m.line ?? "");
        else if (m.type === "result" && m.result) {
          const p = this.pending;
          this.pending = undefined;
          p?.resolve(m.result);
        } else if (m.type === "error") {
          const p = this.pending;
          this.pending = undefined;
          p?.reject(new Error(m.message));
        }
      });
      child.on("exit", (code, signal) => {
        const why = signal ? `signal ${signal}` : `exit code ${code}`;
        reject(new Error(`cell process exited before it was ready (${why})`));
        this.child = undefined;
        this.ready = undefined;
        const p = this.pending;
        this.pending = undefined;
        p?.reject(new Error(`cell process died (${why})`));
      });
    });
    return ready;
  }

  /** Run `cell` in the process (started on first use, restarted after a crash); see `executeCell`. */
  async run(cell: AnyCell, workRoot: string, log: (line: string) => void): Promise<CellResult> {
    if (this.pending) throw new Error("CellProcess.run: a cell is already running");
    this.ready ??= this.start();
    await this.ready;
    return new Promise<CellResult>((resolve, reject) => {
      this.pending = { resolve, reject, log };
      this.child?.send({ type: "run", cell, workRoot });
    });
  }

  /** Stop the process (after its cell, if any, was answered). */
  close(): void {
    this.child?.send({ type: "stop" });
    this.child = undefined;
    this.ready = undefined;
  }
}
