/**
 * Thrown for invalid metric input: mismatched lengths, bad shapes or spacing, single-class labels
 * under the `"throw"` policy. The message names the function and the offending values.
 */
export class MetricInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetricInputError";
  }
}

/** Throws a {@link MetricInputError} when `pred` and `target` differ in length. */
export function assertSameLength(
  fn: string,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  names = ["pred", "target"],
): void {
  if (a.length !== b.length) {
    throw new MetricInputError(
      `${fn}: ${names[0]} has ${a.length} elements but ${names[1]} has ${b.length}; they must match`,
    );
  }
}
