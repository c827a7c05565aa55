/** Invalid trainer configuration or input (bad shapes, missing weights, unknown names). */
export class TrainError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainError";
  }
}

/** A checkpoint file that cannot be read or does not fit the model/optimizer; the message names the file. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}
