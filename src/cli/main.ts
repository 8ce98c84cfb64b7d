#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { MgieError } from "../errors.js";

/**
 * Every command, and how to load its module. Only the command that runs is imported: `mgie edit`
 * does not pay for the data generator, vega (eval) or fastify (serve). Anything that names no
 * known command (`mgie --help`, `mgie help`, a typo) loads them all, so the help and the errors are
 * exactly commander's, listing every command with its description.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  edit: async () => (await import("./edit.js")).editCommand(),
  data: async () => (await import("./data.js")).dataCommand(),
  eval: async () => (await import("./eval.js")).evalCommand(),
  bench: async () => (await import("./bench.js")).benchCommand(),
  serve: async () => (await import("./serve.js")).serveCommand(),
  worker: async () => (await import("./worker.js")).workerCommand(),
  "build-web": async () => (await import("./buildWeb.js")).buildWebCommand(),
};

/**
 * The command named on the command line: the first argument that is not an option (the program's
 * own options, --help and --version, take no value), or the one after `help`.
 */
function commandOf(args: readonly string[]): string | undefined {
  const words = args.filter((a) => !a.startsWith("-"));
  const name = words[0] === "help" ? words[1] : words[0];
  return name !== undefined && Object.hasOwn(COMMANDS, name) ? name : undefined;
}

const program = new Command("mgie")
  .description("MGIE: MLLM-guided image editing. Give a photo and a plain instruction, get the edited photo.")
  .version("0.1.0")
  .showHelpAfterError("(run with --help for usage)");

try {
  const args = process.argv.slice(2);
  const only = commandOf(args.slice(0, args.indexOf("--") < 0 ? args.length : args.indexOf("--")));
  const names = only ? [only] : Object.keys(COMMANDS);
  for (const command of await Promise.all(names.map((n) => COMMANDS[n]()))) program.addCommand(command);
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
