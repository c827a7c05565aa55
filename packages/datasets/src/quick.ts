import { PyRandom } from "./random.js";

/**
 * `--quick` on a user's `--data`: the same size limits as the sample layouts' quick runs (each
 * task's `quickLimit` in `@models-genesis/tasks`), applied to any dataset, seeded and at patient
 * level (whole patients / scans / cases only).
 */

/** What {@link quickSubset} kept. */
export interface QuickSubset<T> {
  /** The kept items, in their input order. */
  readonly items: T[];
  /** Kept / all groups (patients, scans, cases). */
  readonly groups: number;
  readonly groupsTotal: number;
}

/**
 * Keep whole groups (patients) of `items`, drawn in a seeded order (`PyRandom(seed)` shuffles the
 * sorted group ids), until `limit` items are kept; the last group drawn may overshoot the limit, as
 * in the sample layouts. With `partOf` the limit is shared out over the parts (train / val / test,
 * folds) in proportion to their item counts, at least one item per part, so that no part ends empty;
 * a group is assigned to the part of its first item.
 *
 * @param items anything with a group id (e.g. volume ids).
 * @param opts.limit items to keep (≥ 1); `items` is returned whole when it holds no more.
 * @throws RangeError when `limit` is not a positive integer.
 */
export function quickSubset<T>(
  items: readonly T[],
  opts: {
    limit: number;
    seed: number;
    groupOf: (item: T) => string;
    partOf?: (item: T) => string;
  },
): QuickSubset<T> {
  if (!Number.isInteger(opts.limit) || opts.limit < 1)
    throw new RangeError(`quickSubset: limit must be a positive integer, got ${opts.limit}`);
  const groups = new Map<string, T[]>();
  for (const it of items) {
    const g = opts.groupOf(it);
    groups.set(g, [...(groups.get(g) ?? []), it]);
  }
  if (items.length <= opts.limit) return { items: [...items], groups: groups.size, groupsTotal: groups.size };
  const partOf = (g: string) => (opts.partOf ? opts.partOf(groups.get(g)![0]) : "all");
  const partCounts = new Map<string, number>();
  for (const [g, its] of groups) partCounts.set(partOf(g), (partCounts.get(partOf(g)) ?? 0) + its.length);
  const quota = new Map<string, number>();
  for (const [p, n] of partCounts) quota.set(p, Math.max(1, Math.round((opts.limit * n) / items.length)));
  const order = new PyRandom(opts.seed).shuffle([...groups.keys()].sort());
  const kept = new Set<string>();
  const got = new Map<string, number>();
  for (const g of order) {
    const p = partOf(g);
    if ((got.get(p) ?? 0) >= quota.get(p)!) continue;
    kept.add(g);
    got.set(p, (got.get(p) ?? 0) + groups.get(g)!.length);
  }
  return {
    items: items.filter((it) => kept.has(opts.groupOf(it))),
    groups: kept.size,
    groupsTotal: groups.size,
  };
}

/**
 * The log line for a `--quick` subset of `--data`, e.g.
 * `--quick: kept 40 of 905 volumes (18 of 436 patients) of --data, drawn with seed 0`.
 */
export function describeQuickSubset(
  kept: number,
  total: number,
  unit: string,
  groups: { kept: number; total: number; unit: string } | undefined,
  seed: number,
): string {
  const g = groups ? ` (${groups.kept} of ${groups.total} ${groups.unit})` : "";
  return `--quick: kept ${kept} of ${total} ${unit}${g} of --data, drawn with seed ${seed}`;
}
