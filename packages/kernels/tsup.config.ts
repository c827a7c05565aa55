import { buildConfig } from "../../tsup.shared";

export default buildConfig({
  // tfjs-core's gradient registrations exist only as extension-less ES modules that Node cannot
  // import directly from a CommonJS-typed package: bundle them (they register into tfjs-core's
  // global gradient registry, shared with the package's own `main` build).
  noExternal: [/register_all_gradients/],
});
