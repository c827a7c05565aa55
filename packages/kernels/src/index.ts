export * from "./backend.js";
export { installLeanBackprop, uninstallLeanBackprop } from "./lean-backprop.js";
export * from "./ops.js";
