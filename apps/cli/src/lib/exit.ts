/**
 * An error that ends the CLI with its own exit code instead of 1: `main` prints its message as one
 * `genesis: …` line and returns `exitCode`.
 */
export class ExitCodeError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = "ExitCodeError";
  }
}

/** Exit code of a run that finished but whose pretraining failed its verdict under `--strict`. */
export const STRICT_FAILURE_EXIT = 3;

/** Exit code of a run stopped by Ctrl-C (SIGINT) after saving its checkpoint: 128 + 2, as shells report it. */
export const INTERRUPTED_EXIT = 130;
