#!/usr/bin/env node
/**
 * `ncc`: Lung nodule false-positive reduction (LUNA16), ROC AUC — the Models Genesis target task as a program.
 *
 *     pnpm --dir apps/ncc start -- [--data DIR] --out DIR [--quick] [--runs N] [--weights FILE]
 *                                   [--init scratch|genesis|official] [--seed N]
 *
 * Reads the dataset in its own layout (`--data`), or builds the sample layout from the shared real
 * data when `--data` is absent; writes `OUT/splits.json` (created once, then reused), prepares the
 * train / validation / test arrays with their preprocessing record and fine-tunes once per
 * initialisation × run, writing `OUT/results.json` + `OUT/results.md`. All of it is
 * `runTaskApp` of `@models-genesis/tasks` (the task's folder there: `src/ncc/`).
 */
import { runTaskApp } from "@models-genesis/tasks";

void runTaskApp("ncc", process.argv, import.meta.url);
