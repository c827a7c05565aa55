import { buildConfig } from "../../tsup.shared";

// child / worker-main: the local runner's worker process and the queue worker process (started by file path)
export default buildConfig({ entry: ["src/index.ts", "src/child.ts", "src/worker-main.ts"] });
