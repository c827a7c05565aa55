/**
 * Typed errors of `@models-genesis/volume-io`.
 *
 * Every reader failure is a {@link VolumeReadError} whose message names the file and the problem,
 * e.g. `brain.nii.gz: vox_offset 90000 is past the end of the data (8000 bytes)`. The `genesis`
 * CLI prints that message as one line.
 */

/** A file could not be read as a volume (bad magic, truncated data, absurd header, unsupported type, …). */
export class VolumeReadError extends Error {
  override readonly name = "VolumeReadError";
  /** The file (or DICOM folder) that failed. */
  readonly file: string;
  /** What is wrong with it, without the file name. */
  readonly problem: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.file = file;
    this.problem = problem;
  }
}

/** A volume's values or geometry are unusable for an operation (non-finite voxels, wrong kind, bad shape). */
export class VolumeValueError extends Error {
  override readonly name = "VolumeValueError";
}

/**
 * The message of anything thrown by a parser or decoder: an `Error`'s message, a thrown string
 * (`dicom-parser` throws strings), or the `exception` of the `{ exception, dataSet }` object that
 * `dicomParser.parseDicom` throws — never `[object Object]`.
 */
export function errorReason(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === "string") return err;
  if (err && typeof err === "object") {
    const e = err as { exception?: unknown; message?: unknown };
    if (e.exception !== undefined) return errorReason(e.exception);
    if (typeof e.message === "string") return e.message;
    try {
      const json = JSON.stringify(err);
      if (json && json !== "{}") return json;
    } catch {
      // circular: fall through
    }
  }
  return String(err);
}
