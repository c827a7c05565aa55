export * from "./backend.js";
export { batchChunkThreshold, setBatchChunkThreshold } from "./core.js";
export { installLeanBackprop, releaseAllHeld, uninstallLeanBackprop } from "./lean-backprop.js";
export * from "./ops.js";
export {
  describeAdapter,
  probeWebgpu,
  type WebgpuAdapterInfo,
  webgpuAdapterSync,
  webgpuSkipReason,
} from "./webgpu.js";
