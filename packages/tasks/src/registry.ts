import { BMS_TASK } from "./bms/index.js";
import type { TaskConfig, TaskName } from "./config.js";
import type { TaskDefinition } from "./define.js";
import { ECC_TASK } from "./ecc/index.js";
import { LCS_TASK } from "./lcs/index.js";
import { NCC_TASK } from "./ncc/index.js";
import { NCS_TASK } from "./ncs/index.js";

/** The five reference target tasks by name, as `runTaskApp(name, argv)` finds them. */
export const TASKS: Readonly<Record<TaskName, TaskDefinition>> = {
  ncc: NCC_TASK,
  ncs: NCS_TASK,
  ecc: ECC_TASK,
  lcs: LCS_TASK,
  bms: BMS_TASK,
};

/** The reference recipes by task (`keras/downstream_tasks/config.py`): each task folder's config. */
export const TASK_CONFIGS: Readonly<Record<TaskName, TaskConfig>> = {
  ncc: NCC_TASK.config,
  ncs: NCS_TASK.config,
  ecc: ECC_TASK.config,
  lcs: LCS_TASK.config,
  bms: BMS_TASK.config,
};
