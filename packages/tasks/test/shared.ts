// The test helpers of @models-genesis/datasets (shared data location, bundled sample, temporary
// folders): one copy, re-exported for this package's tests.
export * from "../../datasets/test/shared.js";
