import { InvalidArgumentError } from "commander";

/** Commander option parsers that refuse malformed or out-of-range values with the option's name. */
export function wholeNumber(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError(`${name} must be a whole number, got '${v}'`);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}, got '${v}'`);
    return n;
  };
}
