#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { MgieError } from "../errors.js";
import { benchCommand } from "./bench.js";
import { dataCommand } from "./data.js";
import { editCommand } from "./edit.js";
import { evalCommand } from "./eval.js";
import { serveCommand } from "./serve.js";

const program = new Command("mgie")
  .description("MGIE: MLLM-guided image editing. Give a photo and a plain instruction, get the edited photo.")
  .version("0.1.0")
  .showHelpAfterError("(run with --help for usage)");

program.addCommand(editCommand());
program.addCommand(dataCommand());
program.addCommand(evalCommand());
program.addCommand(benchCommand());
program.addCommand(serveCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof MgieError || err instanceof CommanderError) {
    console.error(`mgie: ${err.message}`);
    process.exitCode = 1;
  } else {
    console.error(err);
    process.exitCode = 2;
  }
}
