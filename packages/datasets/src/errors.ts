/**
 * Errors raised by the dataset readers. Every message names the file (or folder) and the problem,
 * so that the apps can print it as one line.
 */
export class DatasetError extends Error {
  /** The file or folder the problem is about. */
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "DatasetError";
    this.file = file;
  }
}
