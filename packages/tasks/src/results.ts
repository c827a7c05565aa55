import { join } from "node:path";
import { writeFileAtomic } from "@models-genesis/datasets";
import type { TaskName } from "./config.js";

/** Mean ± sd (percent) the paper reports for one initialisation (Zhou et al., MedIA 2021, Table 2 / Fig. 4 values). */
export interface PaperValue {
  readonly mean: number;
  readonly sd: number;
}

/**
 * The paper's numbers, in percent: Models Genesis (3D, Genesis Chest CT) and training from scratch,
 * mean ± sd over repeated runs. NCC/ECC are ROC AUC; NCS/LCS/BMS are the paper's IoU (Keras two-class
 * mean IoU over thresholds 0.50…0.95, `keras/downstream_tasks/utils.py` `mean_iou`).
 */
export const PAPER_RESULTS: Readonly<
  Record<TaskName, { metric: string; genesis: PaperValue; scratch: PaperValue }>
> = {
  ncc: { metric: "AUC", genesis: { mean: 98.07, sd: 0.59 }, scratch: { mean: 94.25, sd: 5.07 } },
  ncs: { metric: "IoU (paper)", genesis: { mean: 77.41, sd: 0.4 }, scratch: { mean: 74.05, sd: 1.97 } },
  ecc: { metric: "AUC", genesis: { mean: 87.2, sd: 2.87 }, scratch: { mean: 80.36, sd: 3.58 } },
  lcs: { metric: "IoU (paper)", genesis: { mean: 85.1, sd: 2.15 }, scratch: { mean: 79.76, sd: 5.42 } },
  bms: { metric: "IoU (paper)", genesis: { mean: 67.96, sd: 1.29 }, scratch: { mean: 59.87, sd: 4.04 } },
};

/**
 * The segmentation metrics by name, as the log line, `results.md` and `results.json` (`metricNames`)
 * name them: the paper's IoU is the headline (it is what the paper reports) but alone it misleads —
 * its background class scores ≈ 50 % for a model that finds nothing — so Dice and plain IoU stand
 * beside it.
 */
export const SEGMENTATION_METRIC_NAMES = {
  dice: "Dice: foreground Dice 2|P∩T| / (|P| + |T|) over the test set, prediction thresholded at 0.5",
  iou: "IoU: foreground IoU |P∩T| / |P∪T| over the test set, prediction thresholded at 0.5",
  value:
    "IoU (paper): the paper's metric, Keras two-class (background + foreground) mean IoU averaged over thresholds 0.50…0.95; ≈ 50 % from the background alone",
} as const;

/**
 * One run's segmentation result as a log phrase, each metric named (values are fractions, printed
 * in percent with 2 decimals): `Dice 2.10%, IoU 1.06%, IoU (paper) 47.12%`.
 */
export function describeSegmentationResult(value: number, dice: number, iou: number): string {
  const p = (v: number) => `${(100 * v).toFixed(2)}%`;
  return `Dice ${p(dice)}, IoU ${p(iou)}, IoU (paper) ${p(value)}`;
}

/** Per-initialisation summary: the per-run values and their mean and sample sd (n − 1; null below 2 runs). */
export interface RunSummary {
  values: number[];
  mean: number | null;
  sd: number | null;
  /** Secondary metrics (e.g. Dice, plain foreground IoU), each summarised the same way. */
  extra?: Record<string, RunSummary>;
}

/** The content of `results.json`. Values are fractions in [0, 1] (AUC, IoU), as the metrics return them. */
export interface ResultsFile {
  task: string;
  metric: string;
  runs: Record<string, RunSummary>;
  /** The paper's numbers for the task; null for a task the paper does not report (a contributed one). */
  paper: { metric: string; genesis: PaperValue; scratch: PaperValue; unit: "percent" } | null;
  /**
   * Segmentation tasks: what each number is — `value` (the per-run `values`, the paper's IoU),
   * `dice` and `iou` (in `extra`) — {@link SEGMENTATION_METRIC_NAMES}.
   */
  metricNames?: Record<string, string>;
  /** Free-form facts about the run (data, quick mode, seed, machine). */
  notes?: Record<string, unknown>;
}

/** Mean and sample standard deviation (n − 1) of `values`; sd is null for fewer than two values, both null for none. */
export function summarize(values: readonly number[]): RunSummary {
  const n = values.length;
  if (n === 0) return { values: [], mean: null, sd: null };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n < 2 ? null : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  return { values: [...values], mean, sd };
}

function pct(v: number | null): string {
  return v === null ? "—" : (100 * v).toFixed(2);
}

/**
 * Write `results.json` and `results.md` into `outDir` (both atomically).
 *
 * `runs` maps an initialisation (`scratch`, `genesis`, `official`, …) to its per-run metric values
 * as fractions. `results.md` is a table of mean ± sd in percent beside the paper's Genesis and
 * scratch numbers for the task (none for a task the paper does not report); when `notes.quick` or
 * `notes.sample` is true it says so under the title (a quick run or the sample layout is a pipeline
 * check, not comparable with the paper).
 *
 * @throws RangeError when a value is not a finite number.
 */
export async function writeResults(
  outDir: string,
  input: {
    task: string;
    /** The task's kind: segmentation results name Dice, IoU and the paper's IoU side by side. */
    kind: "classification" | "segmentation";
    metric: string;
    runs: Record<string, readonly number[]>;
    /** Per initialisation, secondary metrics by name (e.g. `dice`, `iou`), one value per run. */
    extra?: Record<string, Record<string, readonly number[]>>;
    notes?: Record<string, unknown>;
  },
): Promise<ResultsFile> {
  const runs: Record<string, RunSummary> = {};
  const check = (what: string, values: readonly number[]) => {
    for (const v of values)
      if (!Number.isFinite(v)) throw new RangeError(`writeResults: ${what} has a non-finite value ${v}`);
  };
  for (const [init, values] of Object.entries(input.runs)) {
    check(init, values);
    const summary = summarize(values);
    const extra = input.extra?.[init];
    if (extra) {
      summary.extra = {};
      for (const [name, vs] of Object.entries(extra)) {
        check(`${init} ${name}`, vs);
        summary.extra[name] = summarize(vs);
      }
    }
    runs[init] = summary;
  }
  const paper =
    (PAPER_RESULTS as Readonly<Record<string, (typeof PAPER_RESULTS)[TaskName]>>)[input.task] ?? null;
  const segmentation = input.kind === "segmentation";
  const file: ResultsFile = {
    task: input.task,
    metric: input.metric,
    runs,
    paper: paper ? { ...paper, unit: "percent" } : null,
    ...(segmentation ? { metricNames: { ...SEGMENTATION_METRIC_NAMES } } : {}),
    ...(input.notes ? { notes: input.notes } : {}),
  };
  const sideBySide = segmentation && Object.values(runs).some((r) => r.extra?.dice || r.extra?.iou);
  const lines = sideBySide
    ? [
        `# ${input.task.toUpperCase()} results (Dice, IoU and the paper's IoU, percent)`,
        "",
        "| initialisation | runs | Dice: mean ± sd | IoU: mean ± sd | IoU (paper): mean ± sd |",
        "|---|---|---|---|---|",
        ...Object.entries(runs).map(([init, r]) => {
          const cell = (e: RunSummary | undefined) => (e ? `${pct(e.mean)} ± ${pct(e.sd)}` : "—");
          return `| ${init} | ${r.values.length} | ${cell(r.extra?.dice)} | ${cell(r.extra?.iou)} | ${cell(r)} |`;
        }),
        "",
        `- ${SEGMENTATION_METRIC_NAMES.dice}.`,
        `- ${SEGMENTATION_METRIC_NAMES.iou}.`,
        `- ${SEGMENTATION_METRIC_NAMES.value}, so read it beside Dice and IoU.`,
        "",
        `## Beside the paper (${input.metric})`,
        "",
      ]
    : [`# ${input.task.toUpperCase()} results (${input.metric}, percent)`, ""];
  const caveats = [
    input.notes?.quick === true
      ? "**Quick run** (`--quick`): a small subset and a short schedule, a pipeline check."
      : null,
    input.notes?.sample === true
      ? "**Sample data**: the sample layout built from the shared/bundled data (`SAMPLE_LAYOUT.md` states its rule), not the task's dataset."
      : null,
  ].filter((c): c is string => c !== null);
  if (caveats.length > 0) lines.splice(2, 0, ...caveats, "Not comparable with the paper's numbers.", "");
  lines.push(
    "| initialisation | runs | ours: mean ± sd | per run | paper: mean ± sd |",
    "|---|---|---|---|---|",
  );
  const inits = new Set([...Object.keys(runs), "scratch", "genesis"]);
  for (const init of inits) {
    const r = runs[init];
    const p = paper && (init === "genesis" || init === "scratch") ? paper[init] : null;
    const ours = r ? `${pct(r.mean)} ± ${pct(r.sd)}` : "not run";
    const per = r ? r.values.map((v) => pct(v)).join(", ") : "";
    const paperCell = p
      ? `${p.mean.toFixed(2)} ± ${p.sd.toFixed(2)} (${paper?.metric})`
      : init.endsWith("-2d")
        ? "not reported here"
        : "—";
    lines.push(`| ${init} | ${r ? r.values.length : 0} | ${ours} | ${per} | ${paperCell} |`);
  }
  for (const [init, r] of Object.entries(runs)) {
    for (const [name, e] of Object.entries(r.extra ?? {})) {
      if (sideBySide && (name === "dice" || name === "iou")) continue; // in the first table
      lines.push(
        `| ${init}: ${name} | ${e.values.length} | ${pct(e.mean)} ± ${pct(e.sd)} | ${e.values.map((v) => pct(v)).join(", ")} | — |`,
      );
    }
  }
  lines.push(
    "",
    paper
      ? `Paper: Zhou et al., Models Genesis, MedIA 2021 (Genesis Chest CT 3D vs. training from scratch).`
      : `The paper (Zhou et al., MedIA 2021) reports no numbers for ${input.task}.`,
  );
  if ([...inits].some((i) => i.endsWith("-2d")))
    lines.push(
      "",
      "2D rows (`scratch-2d`, `genesis-2d`): the slice-wise 2-D U-Net trained on the patches' axial slices; segmentation patches are predicted slice by slice and stacked back (metrics on the 3-D patches), a classification patch scores the mean of its slices' probabilities. The paper's 2D numbers are not reproduced in this table.",
    );
  await writeFileAtomic(join(outDir, "results.json"), `${JSON.stringify(file, null, 2)}\n`);
  await writeFileAtomic(join(outDir, "results.md"), `${lines.join("\n")}\n`);
  return file;
}
