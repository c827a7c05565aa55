import { buildConfig } from "../../tsup.shared";

export default buildConfig({ entry: ["src/main.ts"], dts: false });
