import * as tf from "@tensorflow/tfjs-core";

/**
 * Gradient-free building blocks of the fast ops (called inside `tf.customGrad` forward and
 * backward functions, where the tape is off). Every helper keeps to tensors of rank ≤ 4 and to
 * the wasm kernels that measured fast on XNNPACK (Conv2D, plain BatchMatMul, rank ≤ 4 Slice /
 * PadV2 / Transpose); see the package README for the figures. Large temporaries are disposed as
 * soon as they are consumed, so the peak stays near the inputs plus one or two copies.
 */

/** (B, D, H, W, C) of a rank-5 tensor, or (B, 1, H, W, C) of a rank-4 one. */
export function dims5(x: tf.Tensor): [number, number, number, number, number] {
  const s = x.shape as number[];
  return x.rank === 5 ? [s[0], s[1], s[2], s[3], s[4]] : [s[0], 1, s[1], s[2], s[3]];
}

/** Signature of the functions given to {@link customGrad}. */
export type GradFn = (...args: never[]) => {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
};

/** `tf.customGrad` with loose typing (its declared types only allow a fixed tuple of inputs). */
export function customGrad(f: GradFn): (...inputs: tf.Tensor[]) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (
    ...inputs: tf.Tensor[]
  ) => tf.Tensor;
}

/**
 * Input + output elements above which {@link planeConv} and the filter gradient work one batch
 * element at a time. Default 2^23 floats (32 MiB: bounds temporaries by one sample on wasm/cpu);
 * on `webgpu` the adapter's maxStorageBufferBindingSize / 4, so that no kernel binds a buffer past
 * the adapter's limit while the GPU still sees whole batches (set by `initBackend`).
 */
const DEFAULT_CHUNK = 2 ** 23;
const backendChunkDefaults = new Map<string, number>();
let chunkOverride: number | null = null;

/** Sets a backend's default threshold (called by `initBackend` for `webgpu`). */
export function setBackendChunkDefault(backend: string, elements: number): void {
  backendChunkDefaults.set(backend, elements);
}

/** Current threshold of {@link setBatchChunkThreshold} on the active backend. */
export function batchChunkThreshold(): number {
  return chunkOverride ?? backendChunkDefaults.get(tf.getBackend()) ?? DEFAULT_CHUNK;
}

/**
 * Sets the input + output element count above which convolutions (forward, input and filter
 * gradients) run one batch element at a time, on every backend. 0 always chunks, Infinity never;
 * `null` restores each backend's default (2^23; on webgpu the storage binding limit).
 */
export function setBatchChunkThreshold(elements: number | null): void {
  chunkOverride = elements;
}

/** Disposes `t` unless it is one of `keep`. */
function drop(t: tf.Tensor, ...keep: tf.Tensor[]): void {
  if (!keep.includes(t)) t.dispose();
}

/** `acc + t`, disposing both operands (the caller owns neither afterwards). */
function accumulate(acc: tf.Tensor | null, t: tf.Tensor): tf.Tensor {
  if (acc === null) return t;
  const s = tf.add(acc, t);
  acc.dispose();
  t.dispose();
  return s;
}

/**
 * Same-padded, stride-1 convolution of a stack of (H, W) planes with a kernel that is `kd` deep
 * (across planes) and `k × k` in-plane: the sum over kernel depth of 2-D convolutions of
 * depth-shifted plane stacks (each a rank-3 slice of the depth-padded input).
 *
 * @param x (B, D, H, W, Cin) as a rank-4 or rank-5 tensor; `D` is the depth axis (D = 1 for 2-D).
 * @param w (kd, k, k, Cin, Cout), kd and k odd.
 * @param bias optional (Cout).
 * @returns (B, D, H, W, Cout) with x's rank (a rank-4 x is read as D = 1).
 */
export function planeConv(x: tf.Tensor, w: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const n = x.shape[0];
  if (n > 1 && x.size + (x.size / x.shape[x.rank - 1]) * w.shape[w.rank - 1] >= batchChunkThreshold()) {
    // One batch element at a time: the shifted copies and partial sums then cost one sample,
    // not the batch (the output is assembled by a rank-2 concat).
    const x2 = tf.reshape(x, [n, x.size / n]);
    const parts: tf.Tensor[] = [];
    for (let i = 0; i < n; i++) {
      const xs = tf.slice(x2, [i, 0], [1, x.size / n]);
      const xi = tf.reshape(xs, [1, ...x.shape.slice(1)]);
      const yi = planeConv(xi, w, bias);
      tf.dispose([xs, xi]);
      parts.push(tf.reshape(yi, [1, yi.size]));
      yi.dispose();
    }
    x2.dispose();
    const y2 = tf.concat(parts, 0);
    tf.dispose(parts);
    const y = tf.reshape(y2, [n, ...x.shape.slice(1, -1), w.shape[w.rank - 1]]);
    y2.dispose();
    return y;
  }
  const [b, d, h, wd, cin] = dims5(x);
  const kd = w.rank === 5 ? w.shape[0] : 1;
  const k = w.shape[w.rank - 3];
  const cout = w.shape[w.rank - 1];
  const outShape = x.rank === 5 ? [b, d, h, wd, cout] : [b, h, wd, cout];
  if (kd === 1 && k === 1) {
    const x2 = tf.reshape(x, [b * d * h * wd, cin]);
    const w2 = tf.reshape(w, [cin, cout]);
    const y = bias ? tf.fused.matMul({ a: x2, b: w2, bias }) : tf.matMul(x2, w2);
    const out = tf.reshape(y, outShape);
    y.dispose();
    return out;
  }
  const x4 = tf.reshape(x, [b * d, h, wd, cin]) as tf.Tensor4D;
  const wr = tf.reshape(w, [kd, k * k * cin * cout]);
  const p = (kd - 1) / 2;
  let xp: tf.Tensor | null = null;
  if (kd > 1)
    xp = tf.pad(tf.reshape(x, [b, d, h * wd * cin]), [
      [0, 0],
      [p, p],
      [0, 0],
    ]);
  let acc: tf.Tensor | null = null;
  for (let a = 0; a < kd; a++) {
    let xa: tf.Tensor4D = x4;
    if (a !== p && xp) {
      const s = tf.slice(xp, [0, a, 0], [b, d, h * wd * cin]);
      xa = tf.reshape(s, [b * d, h, wd, cin]);
      s.dispose();
    }
    const row = kd > 1 ? selectRow(wr as tf.Tensor2D, a) : wr;
    const wa = tf.reshape(row, [k, k, cin, cout]) as tf.Tensor4D;
    drop(row, wr);
    const ya =
      bias && acc === null
        ? tf.fused.conv2d({ x: xa, filter: wa, strides: 1, pad: "same", bias })
        : tf.conv2d(xa, wa, 1, "same");
    drop(xa, x4);
    wa.dispose();
    acc = accumulate(acc, ya);
  }
  xp?.dispose();
  wr.dispose();
  x4.dispose();
  const out = tf.reshape(acc as tf.Tensor, outShape);
  (acc as tf.Tensor).dispose();
  return out;
}

/**
 * The filter of the input gradient of {@link planeConv}: spatially reversed, in/out swapped.
 * @param w (kd, k, k, Cin, Cout) or (k, k, Cin, Cout)
 * @returns same rank, (…, Cout, Cin)
 */
export function flipFilter(w: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const cin = w.shape[w.rank - 2];
    const cout = w.shape[w.rank - 1];
    const taps = w.size / (cin * cout);
    // Reversing the tap axis as a matMul with the anti-identity: wasm's Reverse, GatherV2 and
    // Slice+Concat take 10–20× longer on (27, Cin·Cout) filters. The right operand is a fresh
    // copy: wasm caches XNNPACK matMul operators by the right operand's buffer, and w's buffer
    // also enters {@link selectRow} with another shape (a shared buffer there corrupts the heap).
    const fresh = tf.add(tf.reshape(w, [taps, cin * cout]), 0);
    const rev = tf.matMul(tf.reverse(tf.eye(taps), 0), fresh);
    const t = tf.transpose(tf.reshape(rev, [taps, cin, cout]), [0, 2, 1]);
    return tf.reshape(t, [...w.shape.slice(0, w.rank - 2), cout, cin]);
  });
}

/**
 * Row `i` of a 2-D tensor as a one-hot matMul ((1, R)·(R, C)): on wasm this is several times
 * faster than `Slice` for the filter taps used here.
 */
export function selectRow(t: tf.Tensor2D, i: number): tf.Tensor2D {
  return tf.tidy(() => tf.matMul(tf.cast(tf.oneHot([i], t.shape[0]), "float32") as tf.Tensor2D, t));
}

/**
 * Filter gradient of {@link planeConv} (no bias): dW[a,b,c] = Σ x[shifted by (a,b,c)]ᵀ · dy,
 * computed as 9·kd plain matMuls (Cout, M)·(M, Cin) of the transposed, depth-shifted output
 * gradient with in-plane-shifted input slices — no `transposeA` (slow on wasm), no
 * `Conv2DBackpropFilter` (missing on wasm).
 *
 * @param x (B, D, H, W, Cin) or (B, H, W, Cin)
 * @param dy same layout with Cout channels
 * @param kd kernel depth (1 for 2-D); @param k in-plane kernel size
 * @returns (kd, k, k, Cin, Cout), or (k, k, Cin, Cout) when x is rank 4
 */
export function planeConvFilterGrad(x: tf.Tensor, dy: tf.Tensor, kd: number, k: number): tf.Tensor {
  const [b, d, h, wd, cin] = dims5(x);
  const cout = dy.shape[dy.rank - 1];
  const m = b * d * h * wd;
  const outShape = x.rank === 5 ? [kd, k, k, cin, cout] : [k, k, cin, cout];
  const dy2 = tf.reshape(dy, [m, cout]);
  const dyT = tf.transpose(dy2); // (Cout, M): one 2-D transpose, reused by every tap
  dy2.dispose();
  if (kd === 1 && k === 1) {
    const x2 = tf.reshape(x, [m, cin]);
    const g = tf.matMul(dyT, x2); // (Cout, Cin)
    dyT.dispose();
    x2.dispose();
    const gt = tf.transpose(g);
    g.dispose();
    const out = tf.reshape(gt, outShape);
    gt.dispose();
    return out;
  }
  const pd = (kd - 1) / 2;
  const p = (k - 1) / 2;
  // Depth shifts of dy, stacked: rows a·Cout + o hold dY_a = dy[e − a + pd] (zero outside), so
  // each in-plane tap needs ONE matMul (kd·Cout, M)·(M, Cin) and packs its (M, Cin) operand once.
  let dyStack: tf.Tensor;
  if (kd === 1) {
    dyStack = dyT;
  } else {
    const dyTp = tf.pad(tf.reshape(dyT, [cout, b, d, h * wd]), [
      [0, 0],
      [0, 0],
      [pd, pd],
      [0, 0],
    ]);
    dyT.dispose();
    const shifts: tf.Tensor[] = [];
    for (let a = 0; a < kd; a++) {
      const s = tf.slice(dyTp, [0, 0, 2 * pd - a, 0], [cout, b, d, h * wd]);
      shifts.push(tf.reshape(s, [cout, m]));
      s.dispose();
    }
    dyTp.dispose();
    dyStack = tf.concat(shifts, 0); // (kd·Cout, M)
    for (const t of shifts) t.dispose();
  }
  // In-plane shifts of x: x[e, i + bb − p, j + c − p] = xp[e, i + bb, j + c].
  const x4 = tf.reshape(x, [b * d, h, wd, cin]);
  const xp =
    p > 0
      ? tf.pad(x4, [
          [0, 0],
          [p, p],
          [p, p],
          [0, 0],
        ])
      : x4;
  if (xp !== x4) x4.dispose();
  const parts: tf.Tensor[] = [];
  for (let bb = 0; bb < k; bb++) {
    for (let c = 0; c < k; c++) {
      const s = p > 0 ? tf.slice(xp, [0, bb, c, 0], [b * d, h, wd, cin]) : xp;
      const xs = tf.reshape(s, [m, cin]);
      drop(s, xp);
      const g = tf.matMul(dyStack, xs);
      parts.push(tf.reshape(g, [kd, 1, cout, cin])); // (kd, 1, Cout, Cin)
      g.dispose();
      xs.dispose();
    }
  }
  xp.dispose();
  dyStack.dispose();
  const st = tf.concat(parts, 1); // (kd, k·k, Cout, Cin)
  for (const t of parts) t.dispose();
  const st3 = tf.reshape(st, [kd * k * k, cout, cin]);
  st.dispose();
  const tr = tf.transpose(st3, [0, 2, 1]);
  st3.dispose();
  const out = tf.reshape(tr, outShape);
  tr.dispose();
  return out;
}

/**
 * Filter gradient of {@link planeConv} shaped for a GPU (the `webgpu` backend): for each of the
 * kd·k·k taps one *batched* matMul xsᵀ·dy over S chunks of the M = B·D·H·W voxels, then a sum over
 * the chunks. The CPU form ({@link planeConvFilterGrad}) multiplies (kd·Cout, M)·(M, Cin): an output
 * of a few 32×32 tiles with K = M (≈ 10⁶ at 64×64×32, batch 6), which a GPU matMul runs on a handful
 * of workgroups; splitting K into S batch entries gives S times as many (about 512 here) without
 * atomics. No transposes: x is padded once (in-plane, then in depth) and each tap is a slice of
 * it; dy is only reshaped.
 *
 * @param x (B, D, H, W, Cin) or (B, H, W, Cin)
 * @param dy same layout with Cout channels
 * @param kd kernel depth (1 for 2-D); @param k in-plane kernel size
 * @returns (kd, k, k, Cin, Cout), or (k, k, Cin, Cout) when x is rank 4
 */
export function planeConvFilterGradSplitK(x: tf.Tensor, dy: tf.Tensor, kd: number, k: number): tf.Tensor {
  const [b, d, h, wd, cin] = dims5(x);
  const cout = dy.shape[dy.rank - 1];
  const m = b * d * h * wd;
  const outShape = x.rank === 5 ? [kd, k, k, cin, cout] : [k, k, cin, cout];
  const tiles = Math.ceil(cin / 32) * Math.ceil(cout / 32);
  // S: a power of two dividing M, about 512 workgroups in all, at least 256 voxels per chunk
  let s = 1;
  while (s * 2 * tiles <= 512 && m % (s * 2) === 0 && m / (s * 2) >= 256) s *= 2;
  const pd = (kd - 1) / 2;
  const p = (k - 1) / 2;
  // rank ≤ 4 pads and slices only (tfjs-backend-webgpu 4.22 emits invalid WGSL for rank-5 Pad)
  const x4 = tf.reshape(x, [b * d, h, wd, cin]);
  const xpp =
    p > 0
      ? tf.pad(x4, [
          [0, 0],
          [p, p],
          [p, p],
          [0, 0],
        ])
      : x4;
  if (xpp !== x4) x4.dispose();
  const hp = h + 2 * p;
  const wp = wd + 2 * p;
  const plane = hp * wp * cin;
  let xp3: tf.Tensor | null = null;
  if (pd > 0) {
    const v = tf.reshape(xpp, [b, d, plane]);
    xp3 = tf.pad(v, [
      [0, 0],
      [pd, pd],
      [0, 0],
    ]);
    v.dispose();
  }
  const dy3 = tf.reshape(dy, [s, m / s, cout]);
  const taps: tf.Tensor[] = [];
  for (let a = 0; a < kd; a++) {
    let xa = xpp;
    if (xp3) {
      const sl = tf.slice(xp3, [0, a, 0], [b, d, plane]);
      xa = tf.reshape(sl, [b * d, hp, wp, cin]);
      sl.dispose();
    }
    for (let bb = 0; bb < k; bb++) {
      for (let c = 0; c < k; c++) {
        const xs = p > 0 ? tf.slice(xa, [0, bb, c, 0], [b * d, h, wd, cin]) : xa;
        const xs3 = tf.reshape(xs, [s, m / s, cin]);
        drop(xs, xa);
        const g = tf.matMul(xs3, dy3, true, false); // (S, Cin, Cout)
        xs3.dispose();
        taps.push(s > 1 ? tf.sum(g, 0) : tf.reshape(g, [cin, cout]));
        g.dispose();
      }
    }
    drop(xa, xpp);
  }
  xp3?.dispose();
  xpp.dispose();
  dy3.dispose();
  const st = tf.stack(taps); // (kd·k·k, Cin, Cout)
  for (const t of taps) t.dispose();
  const out = tf.reshape(st, outShape);
  st.dispose();
  return out;
}

/** Sum of `dy` over every axis but the last, as (C): the bias gradient. */
export function channelSum(dy: tf.Tensor): tf.Tensor1D {
  const c = dy.shape[dy.rank - 1];
  return tf.tidy(() => tf.sum(tf.reshape(dy, [dy.size / c, c]), 0) as tf.Tensor1D);
}

/**
 * Block depth-to-space for the ×2 ops: rows ordered (N, A, B, C) with columns ordered
 * (i, j, k, Ch) become (N, 2A, 2B, 2C, Ch), using two rank-4 transposes (rank-8 transposes are
 * slow on wasm). With `dims = 2` rows (N, A, B) and columns (i, j, Ch) become (N, 2A, 2B, Ch).
 * @param y (N·A·B·C, 8·Ch) or (N·A·B, 4·Ch)
 */
export function depthToSpace2(y: tf.Tensor, spatial: number[], n: number, ch: number): tf.Tensor {
  return tf.tidy(() => {
    if (spatial.length === 3) {
      const [a, b, c] = spatial as [number, number, number];
      const t1 = tf.transpose(tf.reshape(y, [n * a * b, c, 4, 2 * ch]), [0, 2, 1, 3]); // [n a b i j c k ch]
      const t2 = tf.transpose(tf.reshape(t1, [n * a, b, 2, 2 * c * 2 * ch]), [0, 2, 1, 3]); // [n a i b j c k ch]
      return tf.reshape(t2, [n, 2 * a, 2 * b, 2 * c, ch]);
    }
    const [a, b] = spatial as [number, number];
    const t1 = tf.transpose(tf.reshape(y, [n * a, b, 2, 2 * ch]), [0, 2, 1, 3]); // [n a i b j ch]
    return tf.reshape(t1, [n, 2 * a, 2 * b, ch]);
  });
}

/** Inverse of {@link depthToSpace2}: (N, 2A, 2B[, 2C], Ch) → (N·A·B[·C], 8·Ch or 4·Ch), columns (i, j[, k], Ch). */
export function spaceToDepth2(x: tf.Tensor, spatial: number[], n: number, ch: number): tf.Tensor {
  return tf.tidy(() => {
    if (spatial.length === 3) {
      const [a, b, c] = spatial as [number, number, number];
      const t1 = tf.transpose(tf.reshape(x, [n * a, 2, b, 2 * c * 2 * ch]), [0, 2, 1, 3]); // [n a b i j c k ch]
      const t2 = tf.transpose(tf.reshape(t1, [n * a * b, 4, c, 2 * ch]), [0, 2, 1, 3]); // [n a b c i j k ch]
      return tf.reshape(t2, [n * a * b * c, 8 * ch]);
    }
    const [a, b] = spatial as [number, number];
    const t1 = tf.transpose(tf.reshape(x, [n * a, 2, b, 2 * ch]), [0, 2, 1, 3]); // [n a b i j ch]
    return tf.reshape(t1, [n * a * b, 4 * ch]);
  });
}

/**
 * Concatenation along the last (channel) axis whose gradient slices a rank-2 (M, C) view —
 * tfjs's own gradient splits the rank-5 tensor with `SplitV`, ≈ 20 s on wasm for one decoder
 * level — and which saves no tensor for backward (only the channel counts).
 * @param xs tensors of equal shape except the last axis
 */
export function concatLastAxis(xs: tf.Tensor[]): tf.Tensor {
  const sizes = xs.map((t) => t.shape[t.rank - 1]);
  const total = sizes.reduce((a, b) => a + b, 0);
  const shapes = xs.map((t) => t.shape);
  // customGrad passes its save function after the inputs
  const f = customGrad(((...args: tf.Tensor[]) => ({
    value: tf.concat(args.slice(0, xs.length), -1),
    gradFunc: (dy: tf.Tensor) =>
      tf.tidy(() => {
        const m = dy.size / total;
        const dy2 = tf.reshape(dy, [m, total]);
        let off = 0;
        return sizes.map((c, i) => {
          const g = tf.reshape(tf.slice(dy2, [0, off], [m, c]), shapes[i]);
          off += c;
          return g;
        });
      }),
  })) as unknown as GradFn);
  return f(...xs);
}
