import type { ReadOptions } from "@models-genesis/volume-io";
import type { Command } from "commander";

/** The `--irregular-slices <mode>` option of the commands that read a volume. */
export function irregularSlicesOption(cmd: Command): Command {
  return cmd.option(
    "--irregular-slices <mode>",
    "DICOM series whose slices are not evenly spaced: error (default; the message lists the positions) or resample (linear interpolation at their true positions onto a regular grid, with a warning)",
    "error",
  );
}

/**
 * `readVolume` options from the command's options: `irregularSlices` from `--irregular-slices`, and
 * warnings printed to stderr as `genesis: warning: <message>`.
 * @throws Error when `--irregular-slices` is neither error nor resample.
 */
export function volumeReadOptions(o: { irregularSlices?: unknown }): ReadOptions {
  const mode = o.irregularSlices ?? "error";
  if (mode !== "error" && mode !== "resample")
    throw new Error(`--irregular-slices must be error or resample, got ${JSON.stringify(mode)}`);
  return {
    irregularSlices: mode,
    onWarning: (message) => process.stderr.write(`genesis: warning: ${message}\n`),
  };
}
