import * as tf from "@tensorflow/tfjs-core";

/**
 * Memory-lean reverse pass for tfjs 4.22.
 *
 * tfjs's `Engine.gradients` keeps, until the whole backward pass ends, (a) the gradient of every
 * intermediate tensor and (b) every tensor saved for backward. For a U-Net that doubles the peak:
 * the width-32 Genesis U-Net (batch 2, 64×64×32) peaked at 3.93 GB on wasm — at the 4 GiB limit of
 * the 32-bit wasm heap. This replacement runs the same algorithm (same tape filtering, same order,
 * same accumulation) but frees a tensor's gradient as soon as the op that produced the tensor has
 * consumed it, and frees an op's saved tensors right after its gradient ran (first-order gradients
 * only; nested/higher-order gradients keep tfjs's behaviour).
 */

interface TapeNode {
  id: number;
  kernelName: string;
  outputs: tf.Tensor[];
  inputs: Record<string, tf.Tensor>;
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(name: string | (() => T), f?: () => T): T;
  gradients: (...args: unknown[]) => unknown;
}

/** Port of tfjs-core `tape.ts` `getFilteredNodesXToY`: the nodes on a path from some x to y, inputs pruned to those from x. */
function filterTape(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX: Record<number, boolean> = {};
  const nodesFromX: Record<number, boolean> = {};
  for (const x of xs) fromX[x.id] = true;
  for (const node of tape) {
    for (const name in node.inputs) {
      if (fromX[node.inputs[name].id]) {
        for (const o of node.outputs) fromX[o.id] = true;
        nodesFromX[node.id] = true;
        break;
      }
    }
  }
  const leadToY: Record<number, boolean> = { [y.id]: true };
  const nodesToY: Record<number, boolean> = {};
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => leadToY[o.id])) {
      for (const name in node.inputs) {
        leadToY[node.inputs[name].id] = true;
        nodesToY[node.id] = true;
      }
    }
  }
  const filtered: TapeNode[] = [];
  for (const node of tape) {
    if (nodesFromX[node.id] && nodesToY[node.id]) {
      const inputs: Record<string, tf.Tensor> = {};
      for (const name in node.inputs) if (fromX[node.inputs[name].id]) inputs[name] = node.inputs[name];
      filtered.push({ ...node, inputs, outputs: node.outputs });
    }
  }
  return filtered;
}

let original: EngineInternals["gradients"] | null = null;

/** Tensors held by {@link holdForBackward} and not yet released: freed when the reverse pass ends. */
const held = new Set<tf.Tensor>();

/**
 * Keeps tensors for a custom gradient without copying them. tfjs's `save` clones through the
 * `Identity` kernel, which on wasm copies the buffer (≈ 1 GB per step for the width-32 U-Net at
 * batch 2); a reshape view shares it. The views live outside every tidy scope until
 * {@link releaseHeld} (the op's backward) or the end of the current reverse pass, whichever is first.
 * Caution (wasm): XNNPACK matMul operators are cached by the right operand's buffer, so a held
 * view must not enter a matMul as right operand with a shape other than its original's.
 * @returns the views, or null when no gradient is being recorded or the lean reverse pass is not
 *   installed (then use `save`).
 */
export function holdForBackward(ts: tf.Tensor[]): tf.Tensor[] | null {
  const engine = tf.engine() as unknown as EngineInternals;
  if (!original || engine.state.gradientDepth === 0) return null;
  return ts.map((t) => {
    const v = tf.keep(tf.reshape(t, t.shape));
    held.add(v);
    return v;
  });
}

/**
 * Releases every tensor that custom ops hold for a backward pass that will not run — after a
 * forward pass, loss or gradient that threw (the trainer's failure path).
 * @returns how many were released
 */
export function releaseAllHeld(): number {
  const n = held.size;
  releaseHeld([...held]);
  return n;
}

/** Releases tensors returned by {@link holdForBackward}. */
export function releaseHeld(ts: tf.Tensor[]): void {
  for (const t of ts) {
    held.delete(t);
    t.dispose();
  }
}

/**
 * Installs the lean reverse pass into the tfjs engine (idempotent). Done when this package loads.
 * Same results as tfjs's own (tested), lower peak memory.
 */
export function installLeanBackprop(): void {
  const engine = tf.engine() as unknown as EngineInternals;
  if (original) return;
  original = engine.gradients;
  engine.gradients = function leanGradients(
    this: EngineInternals,
    f: () => tf.Tensor,
    xs: tf.Tensor[],
    dy?: tf.Tensor,
    allowNoGradients = false,
  ): { value: tf.Tensor; grads: tf.Tensor[] } {
    if (xs.length === 0) throw new Error("gradients() received an empty list of xs.");
    if (dy != null && dy.dtype !== "float32")
      throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    const y = this.scopedRun(
      () => this.startTape(),
      () => this.endTape(),
      () => this.tidy("forward", f),
    );
    if (!(y instanceof tf.Tensor)) throw new Error("The result y returned by f() must be a tensor.");
    const tape = this.state.activeTape as TapeNode[];
    const filtered = filterTape(tape, xs, y);
    if (!allowNoGradients && filtered.length === 0 && xs.length > 0) {
      throw new Error(
        "Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.",
      );
    }
    const firstOrder = this.state.gradientDepth === 0;
    const keep = new Set(xs.map((x) => x.id));
    return this.tidy("backward", () => {
      const acc: Record<number, tf.Tensor> = {};
      acc[y.id] = dy == null ? tf.ones(y.shape) : dy;
      for (let i = filtered.length - 1; i >= 0; i--) {
        const node = filtered[i];
        const dys = node.outputs.map((o) => acc[o.id] ?? null);
        if (node.gradient == null) {
          throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
        }
        const inputGradients = node.gradient(dys);
        for (const name in node.inputs) {
          if (!(name in inputGradients)) {
            throw new Error(
              `Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`,
            );
          }
          const dx = this.tidy(() => inputGradients[name]());
          const x = node.inputs[name];
          if (dx.dtype !== "float32") {
            throw new Error(
              `Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`,
            );
          }
          if (dx.shape.length !== x.shape.length || dx.shape.some((d, k) => d !== x.shape[k])) {
            throw new Error(
              `Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
            );
          }
          const cur = acc[x.id];
          if (cur == null) {
            acc[x.id] = dx;
          } else {
            acc[x.id] = tf.add(cur, dx);
            cur.dispose();
            dx.dispose();
          }
        }
        // Every consumer of this node's outputs ran before it (reverse tape order): their
        // gradients are final and needed by nobody else now.
        for (const o of node.outputs) {
          const g = acc[o.id];
          if (g != null && !keep.has(o.id) && g !== dy) {
            g.dispose();
            delete acc[o.id];
          }
        }
        if (firstOrder && node.saved) for (const t of node.saved) t.dispose();
      }
      const grads = xs.map((x) => acc[x.id]);
      if (firstOrder) {
        for (const node of tape) for (const t of node.saved ?? []) t.dispose();
        this.state.activeTape = null;
        // views held by custom ops whose backward did not run (not on a path from xs to y)
        releaseHeld([...held]);
      }
      return { value: y, grads };
    });
  } as EngineInternals["gradients"];
}

/** Restores tfjs's own reverse pass (for comparisons). */
export function uninstallLeanBackprop(): void {
  if (!original) return;
  (tf.engine() as unknown as EngineInternals).gradients = original;
  original = null;
}
