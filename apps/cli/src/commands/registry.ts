import type { Command } from "commander";
import { register as info } from "./info.js";

/** A subcommand registers itself on the root program. One file per subcommand. */
export type RegisterCommand = (program: Command) => void;

/** Every subcommand of `genesis`, in the order `genesis --help` lists them. */
export const commands: RegisterCommand[] = [info];
