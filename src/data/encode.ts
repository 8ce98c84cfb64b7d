import { toUint8 } from "../image/raster.js";
import type { EditExample } from "./example.js";

/** An example as stored: its metadata, and its pixels as 8-bit arrays. */
export interface EncodedExample {
  meta: Omit<EditExample, "input" | "target" | "mask"> & { ambiguous: boolean };
  input: Uint8Array;
  target: Uint8Array;
  mask: Uint8Array;
}

export function encodeExample(ex: EditExample): EncodedExample {
  const { input, target, mask, ...rest } = ex;
  return { meta: { ...rest, ambiguous: ex.ambiguity !== null }, input: toUint8(input), target: toUint8(target), mask };
}
