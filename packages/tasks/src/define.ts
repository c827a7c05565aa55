import type { AppOptions, PreparedTask } from "./app.js";
import type { TaskConfig } from "./config.js";
import type { SampleDataSource } from "./prepare.js";

/** One task-specific command-line option beyond the shared ones (a commander option with a value). */
export interface TaskMainOption {
  /** Commander flags, e.g. `"--folds <dir>"`. */
  readonly flags: string;
  readonly description: string;
  readonly defaultValue?: string;
  /** The value is a file or folder path: resolved like `--data` (see {@link resolveUserPath}). */
  readonly isPath?: boolean;
}

/** The parsed options handed to a task's `prepare`: the shared {@link AppOptions} and the extra ones. */
export interface TaskMainOptions extends AppOptions {
  /** Values of {@link TaskMainSpec.extraOptions} by commander's camel-case name (`--folds` → `folds`). */
  readonly extra: Readonly<Record<string, string | undefined>>;
}

/**
 * A target task as the runner needs it: its config and how to prepare its arrays. Each task
 * folder of this package exports one (`NCC_TASK` …, built with {@link defineTask}); a contributed
 * task is one more folder exporting one (README, "Adding a target task").
 */
export interface TaskDefinition {
  /** The task's recipe; `config.task` is the program name and log / error prefix (`ncs: …`). */
  readonly config: TaskConfig;
  /** One-line program description for `--help`. */
  readonly description: string;
  /** `--help` text of `--data` (the dataset's native layout). */
  readonly dataHelp: string;
  /**
   * Prepare the task's arrays and their preprocessing record; `sampleData` (the shared data folder,
   * or a function that locates it — resolve it with `needSample`, only when a sample layout is
   * built) is set only when `--data` is absent.
   */
  readonly prepare: (
    opts: TaskMainOptions,
    sampleData: SampleDataSource | undefined,
    log: (line: string) => void,
  ) => Promise<PreparedTask>;
  /** Task-specific options added after the shared ones (BMS: `--folds <dir>`). */
  readonly extraOptions?: readonly TaskMainOption[];
}

/** Identity with the type checked: `export const MY_TASK = defineTask({ config, description, dataHelp, prepare })`. */
export function defineTask(definition: TaskDefinition): TaskDefinition {
  return definition;
}
