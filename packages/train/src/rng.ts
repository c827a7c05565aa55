/**
 * The one seeded generator of the project: `Rng` of `@models-genesis/transforms` (xoroshiro128+
 * whose 32-bit seed is expanded with splitmix32, so neighbouring seeds — `--runs` seeds s, s+1, …
 * — start on unrelated streams). Training uses `random()`, `randint(lo, hi)`, `childSeed()`,
 * `shuffle(a)`, and saves `getState()` (four int32 numbers) in checkpoints; `Rng.fromState`
 * restores it — the format earlier checkpoints stored, so they still load.
 */
export { Rng } from "@models-genesis/transforms";
