export * from "./intensity.js";
export * from "./randFlip.js";
export * from "./randRot90.js";
