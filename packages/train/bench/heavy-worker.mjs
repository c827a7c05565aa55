// CPU-heavy, seeded per-sample transform used by bench/run.mjs (stands in for Genesis pair generation:
// many random block copies over the cube).
export function heavy(x, y, seed) {
  let a = seed >>> 0;
  const r = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = Float32Array.from(x);
  const iters = Number(process.env.HEAVY_ITERS ?? 20000);
  for (let k = 0; k < iters; k++) {
    const src = Math.floor(r() * (x.length - 64));
    const dst = Math.floor(r() * (x.length - 64));
    for (let i = 0; i < 64; i++) out[dst + i] = x[src + ((i * 7) % 64)];
  }
  return { x: out, y };
}
