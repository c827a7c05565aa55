export * from "./config.js";
export * from "./import.js";
export {
  KerasH5FormatError,
  type KerasH5Layout,
  type KerasWeight,
  type KerasWeightsFile,
  readKerasH5,
} from "./io/keras.js";
export {
  CheckpointFormatError,
  extractStateDict,
  LazyTensor,
  readTorchCheckpoint,
  type StateDictInfo,
  type TorchCheckpoint,
  type TorchDType,
  type TorchSerialization,
  type TorchTensor,
} from "./io/torch.js";
export * from "./module.js";
export * from "./preprocessing.js";
export * from "./save.js";
export {
  buildPlan,
  type CountParamsOptions,
  type NetworkPlan,
  type WeightInit,
  type WeightLayout,
  type WeightSpec,
} from "./specs.js";
export * from "./unet.js";
export * from "./zoo.js";
