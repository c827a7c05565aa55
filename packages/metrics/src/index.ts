export * from "./errors.js";
export * from "./hausdorff.js";
export * from "./keras-mean-iou.js";
export * from "./overlap.js";
export * from "./roc-auc.js";
