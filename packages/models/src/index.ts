export * from "./module.js";
