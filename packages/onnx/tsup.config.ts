import { buildConfig } from "../../tsup.shared";

export default buildConfig({ external: ["onnxruntime-node"] });
