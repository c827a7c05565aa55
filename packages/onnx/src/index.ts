export * from "./engine-choice.js";
export * from "./export.js";
export * from "./metadata.js";
export { decodeModel, encodeModel, type ModelObj } from "./proto.js";
export * from "./runtime.js";
