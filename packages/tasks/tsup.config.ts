import { buildConfig } from "../../tsup.shared";

export default buildConfig();
