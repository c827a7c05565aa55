export * from "./predict-volume.js";
