import { buildConfig } from "../../tsup.shared";

export default buildConfig({ entry: ["src/index.ts", "src/bin.ts"], dts: { entry: "src/index.ts" } });
