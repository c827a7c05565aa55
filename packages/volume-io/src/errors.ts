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
