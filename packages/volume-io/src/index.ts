export * from "./volume.js";
