import { type Command, InvalidArgumentError, Option } from "commander";
import { describe, EDIT_PARAMETERS, type EditParams, type ParamSpec, paramsOf, rangeText, type Surface } from "../core/params.js";

/** The command-line flag of a parameter: cfgText -> --cfg-text (commander maps it back). */
export function flagOf(name: string): string {
  return `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** A commander parser that refuses a malformed or out-of-range value, naming the flag. */
function numberParser(flag: string, spec: ParamSpec & { type: "integer" | "number" }) {
  return (v: string): number => {
    const n = Number(v);
    const bad = v.trim() === "" || !Number.isFinite(n) || (spec.type === "integer" && !Number.isInteger(n));
    const low = spec.min === Number.MIN_VALUE ? n <= 0 : n < spec.min;
    if (bad || low || n > spec.max) throw new InvalidArgumentError(`${flag} must be ${rangeText(spec)}, got '${v}'`);
    return n;
  };
}

/** Adds an option for every edit parameter the surface offers, as EDIT_PARAMETERS specifies it. */
export function addParamOptions(command: Command, surface: Surface): Command {
  for (const name of paramsOf(surface)) {
    const spec: ParamSpec = EDIT_PARAMETERS[name];
    const flag = flagOf(name);
    const option = new Option(`${flag} <${spec.type === "choice" ? "name" : spec.type === "text" ? "text" : "x"}>`, describe(spec));
    if (spec.type === "choice") option.choices(spec.choices);
    else if (spec.type !== "text") option.argParser(numberParser(flag, spec));
    command.addOption(option);
  }
  return command;
}

/** The edit parameters among a command's parsed options (those not given stay undefined). */
export function paramValues(options: Record<string, unknown>, surface: Surface): EditParams {
  return Object.fromEntries(paramsOf(surface).flatMap((name) => (options[name] === undefined ? [] : [[name, options[name]]])));
}
