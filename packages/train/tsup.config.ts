import { buildConfig } from "../../tsup.shared";

// replica-worker: the worker-thread program of data-parallel training (loaded by file path)
export default buildConfig({ entry: ["src/index.ts", "src/replica-worker.ts"] });
