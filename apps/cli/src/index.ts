import { Command, CommanderError } from "commander";
import { commands } from "./commands/registry.js";
import { ExitCodeError } from "./lib/exit.js";

export {
  type PredictVolumeInfo,
  type PredictVolumeOptions,
  parsePatchSize,
  predictVolume,
} from "@models-genesis/inference";
export { type PredictArrayOptions, predictArray } from "./commands/predict.js";
export * from "./lib/segmentation-data.js";

/**
 * Build the `genesis` command-line program. Each subcommand lives in its own file under
 * `src/commands/` and is listed once in `src/commands/registry.ts`.
 */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name("genesis")
    .description("Models Genesis in TypeScript: read volumes, pretrain, convert, fine-tune and predict")
    .showHelpAfterError("(add --help for usage)")
    .configureOutput({
      // usage errors as one `genesis: …` line (commander prefixes them with "error: ")
      outputError: (str, write) => write(`genesis: ${str.replace(/^error: /, "")}`),
    })
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}

/**
 * Run the CLI. Errors are printed as one line (`genesis: <message>`) without a stack trace,
 * unless `GENESIS_DEBUG=1` is set. Returns the process exit code: 0, 1 for an error, 3 when
 * `--strict` found that pretraining failed (`STRICT_FAILURE_EXIT`).
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit with code 0; parse errors were already printed by commander
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`genesis: ${message}\n`);
    if (process.env.GENESIS_DEBUG === "1" && err instanceof Error && err.stack) {
      process.stderr.write(`${err.stack}\n`);
    }
    return err instanceof ExitCodeError ? err.exitCode : 1;
  }
}
