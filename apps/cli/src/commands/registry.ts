import type { Command } from "commander";
import { register as backend } from "./backend.js";
import { register as convert } from "./convert.js";
import { register as cubes } from "./cubes.js";
import { register as demo } from "./demo.js";
import { register as exportCommand } from "./export.js";
import { register as finetune } from "./finetune.js";
import { register as grid } from "./grid.js";
import { register as info } from "./info.js";
import { register as models } from "./models.js";
import { register as pairs } from "./pairs.js";
import { register as predict } from "./predict.js";
import { register as pretrain } from "./pretrain.js";
import { register as worker } from "./worker.js";

/** A subcommand registers itself on the root program. One file per subcommand. */
export type RegisterCommand = (program: Command) => void;

/** Every subcommand of `genesis`, in the order `genesis --help` lists them. */
export const commands: RegisterCommand[] = [
  info,
  cubes,
  pairs,
  models,
  convert,
  exportCommand,
  predict,
  pretrain,
  finetune,
  grid,
  worker,
  demo,
  backend,
];
