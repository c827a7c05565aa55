export * from "./engine.js";
export * from "./predict-volume.js";
