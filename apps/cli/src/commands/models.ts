import { listModels } from "@models-genesis/models";
import type { Command } from "commander";

/** `genesis models [--json]`: the model zoo (ids, architecture, parameters, official weights). */
export function register(program: Command): void {
  program
    .command("models")
    .description("List the model zoo: ids, variants, parameter counts at width 32 and official weights")
    .option("--json", "print the registry as one JSON array")
    .action((o: { json?: boolean }) => {
      const zoo = listModels();
      if (o.json) {
        process.stdout.write(`${JSON.stringify(zoo, null, 2)}\n`);
        return;
      }
      for (const m of zoo) {
        const c = m.config;
        process.stdout.write(
          `${m.id}  (${m.aliases.join(", ")})\n` +
            `  ${m.description}\n` +
            `  ${c.spatialDims}-D ${c.variant}, width ${c.width}, ${m.params.toLocaleString("en-US")} parameters; ` +
            `input ${m.input.layout} (${m.input.referenceSize.join("×")}, multiples of ${m.input.spatialMultiple}); ` +
            `${m.preprocessing.modality} window [${m.preprocessing.window.join(", ")}] → [${m.preprocessing.range.join(", ")}]\n` +
            `  BN modes: ${m.bnModes.join(", ")}; official weights: ${m.officialWeights ? `${m.officialWeights.file} (${m.officialWeights.format})` : "none"}; source ${m.provenance.sourceFile}\n`,
        );
      }
    });
}
