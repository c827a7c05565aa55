export * from "./backend.js";
export * from "./ops.js";
