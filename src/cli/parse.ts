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

/** A number from 0 to 1. */
export function unitNumber(name: string) {
  const parse = finiteNumber(name);
  return (v: string): number => {
    const n = parse(v);
    if (n < 0 || n > 1) throw new InvalidArgumentError(`${name} must be from 0 to 1, got '${v}'`);
    return n;
  };
}

export function finiteNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got '${v}'`);
    return n;
  };
}
