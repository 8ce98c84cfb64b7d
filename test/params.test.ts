import type { Command, Option } from "commander";
import { expect, it, describe as suite } from "vitest";
import { z } from "zod";
import { benchCommand } from "../src/cli/bench.js";
import { editCommand } from "../src/cli/edit.js";
import { evalCommand } from "../src/cli/eval.js";
import { flagOf } from "../src/cli/paramOptions.js";
import {
  describe,
  EDIT_PARAM_NAMES,
  EDIT_PARAMETERS,
  type ModelDefaults,
  maxOf,
  type ParamSpec,
  paramsOf,
  resolveEditParams,
  type Surface,
} from "../src/core/params.js";
import { InvalidArgumentError } from "../src/errors.js";
import { SCHEDULER_NAMES } from "../src/schedulers/registry.js";
import { openApiDocument } from "../src/server/openapi.js";
import { EditParamsSchema } from "../src/server/schemas.js";

const MODEL: ModelDefaults = { steps: 3, cfgText: 1.25, cfgImage: 1, changeThreshold: 0.02, regionThreshold: 0.25, regionHead: true, variant: "mgie-e2e" };

/** What a JSON Schema of one parameter must say, from the specification. */
function expectedJsonSchema(spec: ParamSpec, surface?: Surface): Record<string, unknown> {
  const description = describe(spec);
  if (spec.type === "choice") return { type: "string", enum: [...spec.choices], description };
  if (spec.type === "text") return { type: "string", maxLength: spec.maxLength, description };
  const low = spec.min === Number.MIN_VALUE ? { exclusiveMinimum: 0 } : { minimum: spec.min };
  return { type: spec.type, ...low, maximum: maxOf(spec, surface), description };
}

function cliOption(command: Command, name: string): Option | undefined {
  return command.options.find((o) => o.long === flagOf(name));
}

suite("EDIT_PARAMETERS: every front end agrees with the one specification", () => {
  it.each([
    ["edit", editCommand()],
    ["eval", evalCommand()],
    ["bench", benchCommand()],
  ] as const)("mgie %s offers exactly its parameters, described as specified", (surface, command) => {
    for (const name of EDIT_PARAM_NAMES) {
      const option = cliOption(command, name);
      if (!paramsOf(surface).includes(name)) {
        expect(option, `${flagOf(name)} on mgie ${surface}`).toBeUndefined();
        continue;
      }
      const spec: ParamSpec = EDIT_PARAMETERS[name];
      expect(option?.description, `${flagOf(name)} on mgie ${surface}`).toBe(describe(spec));
      expect(option?.defaultValue).toBeUndefined(); // defaults are resolved from the spec and the model, not by the CLI
      if (spec.type === "choice") expect(option?.argChoices).toEqual([...spec.choices]);
    }
  });

  it("the CLI refuses a value out of the specified range before any model loads, naming the flag", async () => {
    for (const [args, message] of [
      [["--steps", "1001"], "--steps must be a whole number from 1 to 1000, got '1001'"],
      [["--steps", "1e9"], "--steps must be a whole number from 1 to 1000, got '1e9'"],
      [["--change-threshold", "1.5"], "--change-threshold must be a number from 0 to 1, got '1.5'"],
      [["--top-p", "0"], "--top-p must be a number above 0, at most 1, got '0'"],
      [["--scheduler", "plms"], `argument 'plms' is invalid. Allowed choices are ${SCHEDULER_NAMES.join(", ")}.`],
    ] as const) {
      const command = editCommand()
        .exitOverride()
        .configureOutput({ writeErr: () => {} });
      await expect(command.parseAsync(["photo.png", "x", ...args], { from: "user" }), args.join(" ")).rejects.toThrow(message);
    }
  });

  it("the HTTP request schema has the instruction and exactly the parameters offered to the server", () => {
    expect(Object.keys(EditParamsSchema.shape)).toEqual(["instruction", ...paramsOf("serve")]);
    for (const name of paramsOf("serve")) {
      const { $schema: _, ...schema } = z.toJSONSchema(EditParamsSchema.shape[name as keyof typeof EditParamsSchema.shape], { io: "input" }) as Record<
        string,
        unknown
      >;
      expect(schema, name).toEqual(expectedJsonSchema(EDIT_PARAMETERS[name], "serve"));
    }
  });

  it("OpenAPI describes the JSON and multipart bodies as specified", () => {
    const doc = openApiDocument({ tokenRequired: false }) as {
      components: { schemas: { EditJsonRequest: { properties: Record<string, unknown> } } };
      paths: { "/v1/edits": { post: { requestBody: { content: { "multipart/form-data": { schema: { properties: Record<string, unknown> } } } } } } };
    };
    const multipart = doc.paths["/v1/edits"].post.requestBody.content["multipart/form-data"].schema.properties;
    for (const name of paramsOf("serve")) {
      const want = expectedJsonSchema(EDIT_PARAMETERS[name], "serve");
      expect(doc.components.schemas.EditJsonRequest.properties[name], name).toEqual(want);
      expect(multipart[name], name).toEqual(want);
    }
  });
});

suite("resolveEditParams", () => {
  it("fills in the model's defaults and the fixed ones, and keeps what is given", () => {
    expect(resolveEditParams(MODEL, {})).toEqual({
      cfgText: 1.25,
      cfgImage: 1,
      changeThreshold: 0.02,
      regionThreshold: 0.25,
      steps: 3,
      seed: 0,
      scheduler: "euler-ancestral",
      temperature: 0,
      topP: 1,
    });
    expect(resolveEditParams(MODEL, { steps: 7, scheduler: "ddim", expressive: "brighten it", seed: undefined })).toMatchObject({
      steps: 7,
      scheduler: "ddim",
      expressive: "brighten it",
      seed: 0,
    });
  });

  it("refuses, naming the parameter, a value out of range, of the wrong type, or unknown", () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ steps: 0 }, "steps", /steps must be a whole number from 1 to 1000, got 0/],
      [{ steps: 2.5 }, "steps", /whole number/],
      [{ cfgText: Number.NaN }, "cfgText", /cfgText must be a number from 0 to 100/],
      [{ changeThreshold: -0.1 }, "changeThreshold", /from 0 to 1, got -0.1/],
      [{ scheduler: "plms" }, "scheduler", /scheduler must be one of euler-ancestral, ddim, got "plms"/],
      [{ expressive: "x".repeat(1001) }, "expressive", /1001 characters; at most 1000/],
      [{ cfg_text: 3 }, "cfg_text", /unknown parameter 'cfg_text'/],
    ];
    for (const [params, field, message] of cases) {
      let error: unknown;
      try {
        resolveEditParams(MODEL, params as never);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(params)).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).message).toMatch(message);
      expect((error as InvalidArgumentError).field).toBe(field);
    }
  });

  it("takes a region threshold above 0 only for a model with a region head", () => {
    const plain = { ...MODEL, regionHead: false, regionThreshold: 0, variant: "lgie" };
    expect(resolveEditParams(plain, {}).regionThreshold).toBe(0);
    expect(() => resolveEditParams(plain, { regionThreshold: 0.3 })).toThrow(/regionThreshold must be 0: this lgie model has no region head/);
  });
});
