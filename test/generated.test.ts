import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GENERATED } from "../scripts/generate-docs.js";

describe("files generated from the code's single definitions", () => {
  it.each(Object.keys(GENERATED))("%s is current (else run npm run generate)", (path) => {
    expect(readFileSync(join(import.meta.dirname, "..", path), "utf8")).toBe(GENERATED[path]());
  });
});
