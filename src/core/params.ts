import { z } from "zod";
import { InvalidArgumentError } from "../errors.js";
import { DEFAULT_SCHEDULER, SCHEDULER_NAMES } from "../schedulers/registry.js";

/**
 * The edit parameters, each specified once: its type, range, default and meaning. The library
 * validates and resolves them here (`resolveEditParams`); the CLI options, the server's request
 * schema and OpenAPI, the web form and docs/PARAMETERS.md are all derived from this table.
 */

/** The model's own defaults for the parameters that have one (from its manifest: `modelDefaults`). */
export interface ModelDefaults {
  steps: number;
  cfgText: number;
  cfgImage: number;
  changeThreshold: number;
  regionThreshold: number;
  /** Whether the model has a region head, without which regionThreshold must be 0. */
  regionHead: boolean;
  /** Named in errors, e.g. "mgie-e2e". */
  variant: string;
}

/** Where a parameter is offered besides the library: the CLI's edit, eval, bench and data preview commands; the HTTP API (and its page). */
export type Surface = "edit" | "eval" | "bench" | "preview" | "serve";

interface ParamBase {
  /** A few words, as a form label or table heading. */
  label: string;
  /** One line of meaning. */
  description: string;
  surfaces: readonly Surface[];
}

export interface NumberParam extends ParamBase {
  type: "integer" | "number";
  min: number;
  max: number;
  /** A tighter bound where a server answers requests from anyone (the library allows `max`). */
  serveMax?: number;
  /** A fixed default, or the name of the model's default. */
  default: number | { model: keyof Omit<ModelDefaults, "regionHead" | "variant"> };
  /** The web form's slider (a useful part of the range and its step); absent: a number field. */
  slider?: { max: number; step: number };
}

export interface ChoiceParam extends ParamBase {
  type: "choice";
  choices: readonly string[];
  default: string;
}

export interface TextParam extends ParamBase {
  type: "text";
  maxLength: number;
}

export type ParamSpec = NumberParam | ChoiceParam | TextParam;

/** Longest instruction (or expressive instruction) accepted, in characters. */
export const MAX_INSTRUCTION_CHARS = 1000;

const SAY_WHAT = 'say what to change, e.g. "make it brighter"';

/** Characters as JSON Schema's maxLength counts them (code points, so an emoji is one, not two UTF-16 units). */
const characters = (s: string) => [...s].length;

/**
 * The instruction of an edit: some text, at most MAX_INSTRUCTION_CHARS characters. The model's own
 * limit, in its tokens, is checked on top by the editor (MgieEditor.checkInstruction).
 */
export const InstructionSchema = z
  .string({ error: (i) => (i.input === undefined ? `instruction is missing: ${SAY_WHAT}` : "instruction must be text") })
  .regex(/\S/, { error: `instruction is empty: ${SAY_WHAT}` })
  .refine((s) => characters(s) <= MAX_INSTRUCTION_CHARS, {
    error: (i) => `instruction is ${characters(String(i.input))} characters; at most ${MAX_INSTRUCTION_CHARS}`,
  })
  .meta({
    description: `what to change, in plain words: at most ${MAX_INSTRUCTION_CHARS} characters, and at most what the model takes in its own tokens (a 400 says so)`,
    maxLength: MAX_INSTRUCTION_CHARS,
  });

/** The instruction, checked (InvalidArgumentError when empty or too long). */
export function checkInstruction(text: unknown): string {
  const parsed = InstructionSchema.safeParse(text);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0].message);
  return parsed.data;
}

/** The parameters in the order a form or a help text shows them. */
export const EDIT_PARAMETERS = {
  cfgText: {
    type: "number",
    label: "Instruction guidance α_X",
    description: "how strongly the edit follows the instruction (classifier-free guidance scale α_X)",
    min: 0,
    max: 100,
    default: { model: "cfgText" },
    slider: { max: 15, step: 0.5 },
    surfaces: ["edit", "serve"],
  },
  cfgImage: {
    type: "number",
    label: "Image guidance α_V",
    description: "how strongly the edit keeps to the input image (classifier-free guidance scale α_V)",
    min: 0,
    max: 100,
    default: { model: "cfgImage" },
    slider: { max: 5, step: 0.1 },
    surfaces: ["edit", "serve"],
  },
  changeThreshold: {
    type: "number",
    label: "Ignore changes below",
    description: "pixels the edit changes less than this in every channel (in [0, 1] units) keep the input exactly; 0 keeps every change",
    min: 0,
    max: 1,
    default: { model: "changeThreshold" },
    slider: { max: 0.1, step: 0.01 },
    surfaces: ["edit", "eval", "serve"],
  },
  regionThreshold: {
    type: "number",
    label: "Keep outside the edited region",
    description:
      "where the model's region head gives the edit less than this probability, the input is kept; 0 keeps every change; only a model with a region head takes more than 0",
    min: 0,
    max: 1,
    default: { model: "regionThreshold" },
    slider: { max: 0.9, step: 0.05 },
    surfaces: ["edit", "eval", "serve"],
  },
  steps: {
    type: "integer",
    label: "Steps",
    description: "diffusion steps: more take longer and refine more",
    min: 1,
    max: 1000,
    serveMax: 100,
    default: { model: "steps" },
    slider: { max: 100, step: 1 },
    surfaces: ["edit", "eval", "bench", "preview", "serve"],
  },
  seed: {
    type: "integer",
    label: "Seed",
    description: "random seed: the same seed, input and parameters give the same edit",
    min: 0,
    max: 2 ** 32 - 1,
    default: 0,
    surfaces: ["edit", "eval", "serve"],
  },
  scheduler: {
    type: "choice",
    label: "Sampler",
    description: "the diffusion sampler",
    choices: SCHEDULER_NAMES,
    default: DEFAULT_SCHEDULER,
    surfaces: ["edit", "serve"],
  },
  temperature: {
    type: "number",
    label: "Temperature",
    description: "sample the expressive instruction at this temperature; 0 decodes greedily",
    min: 0,
    max: 10,
    default: 0,
    surfaces: ["edit"],
  },
  topP: {
    type: "number",
    label: "Top-p",
    description: "nucleus-sampling threshold for the expressive instruction (with a temperature above 0)",
    min: Number.MIN_VALUE,
    max: 1,
    default: 1,
    surfaces: ["edit"],
  },
  expressive: {
    type: "text",
    label: "Expressive instruction",
    description: "skip the MLLM and condition the edit on this expressive instruction (for debugging)",
    maxLength: MAX_INSTRUCTION_CHARS,
    surfaces: ["edit"],
  },
} as const satisfies Record<string, ParamSpec>;

export type EditParamName = keyof typeof EDIT_PARAMETERS;
export const EDIT_PARAM_NAMES = Object.keys(EDIT_PARAMETERS) as EditParamName[];

type ValueOf<P> = P extends { type: "choice"; choices: readonly (infer C)[] } ? C : P extends { type: "text" } ? string : number;

/** The parameters as a caller gives them: any may be left out. */
export type EditParams = { [K in EditParamName]?: ValueOf<(typeof EDIT_PARAMETERS)[K]> };

/** The names of the parameters a surface offers, as a type. */
export type ParamsOn<S extends Surface> = { [K in EditParamName]: S extends (typeof EDIT_PARAMETERS)[K]["surfaces"][number] ? K : never }[EditParamName];

/** Every parameter with its value for this edit: the caller's, else the default. `expressive` stays optional. */
export type ResolvedEditParams = Required<Omit<EditParams, "expressive">> & Pick<EditParams, "expressive">;

/** The names of the parameters a surface offers, in table order. */
export function paramsOf(surface: Surface): EditParamName[] {
  return EDIT_PARAM_NAMES.filter((name) => (EDIT_PARAMETERS[name].surfaces as readonly Surface[]).includes(surface));
}

/** The upper bound of a numeric parameter on a surface. */
export function maxOf(spec: NumberParam, surface?: Surface): number {
  return surface === "serve" && spec.serveMax !== undefined ? spec.serveMax : spec.max;
}

/** "a whole number from 1 to 100", for messages. */
export function rangeText(spec: NumberParam, surface?: Surface): string {
  const kind = spec.type === "integer" ? "a whole number" : "a number";
  return spec.min === Number.MIN_VALUE ? `${kind} above 0, at most ${maxOf(spec, surface)}` : `${kind} from ${spec.min} to ${maxOf(spec, surface)}`;
}

/** The default in words: a number, a name, or "the model's". */
export function defaultText(spec: ParamSpec): string {
  if (spec.type === "text") return "none";
  return typeof spec.default === "object" ? "the model's" : String(spec.default);
}

/** The zod schema of one parameter's value on a surface, with messages that name it. */
export function paramSchema<N extends EditParamName>(name: N, surface?: Surface): z.ZodType<NonNullable<EditParams[N]>> {
  return untypedParamSchema(name, surface) as z.ZodType<NonNullable<EditParams[N]>>;
}

function untypedParamSchema(name: EditParamName, surface?: Surface): z.ZodType {
  const spec: ParamSpec = EDIT_PARAMETERS[name];
  const got = (input: unknown) => (input === undefined ? "nothing" : JSON.stringify(input));
  if (spec.type === "choice") {
    const error = (i: { input?: unknown }) => `${name} must be one of ${spec.choices.join(", ")}, got ${got(i.input)}`;
    return z.enum(spec.choices as [string, ...string[]], { error }).meta({ description: describe(spec) });
  }
  if (spec.type === "text") {
    return z
      .string({ error: `${name} must be text` })
      .max(spec.maxLength, { error: (i) => `${name} is ${String(i.input).length} characters; at most ${spec.maxLength}` })
      .meta({ description: describe(spec) });
  }
  const error = (i: { input?: unknown }) => `${name} must be ${rangeText(spec, surface)}, got ${got(i.input)}`;
  let n = z.number({ error });
  if (spec.type === "integer") n = n.int({ error });
  n = spec.min === Number.MIN_VALUE ? n.gt(0, { error }) : n.min(spec.min, { error });
  return n.max(maxOf(spec, surface), { error }).meta({ description: describe(spec) });
}

/** The description with the default, as help texts and OpenAPI show it. */
export function describe(spec: ParamSpec): string {
  return spec.type === "text" ? spec.description : `${spec.description} (default: ${defaultText(spec)})`;
}

/** A strict object schema of the optional parameters a surface offers. */
export function paramsSchema<S extends Surface>(surface: S) {
  const shape = Object.fromEntries(paramsOf(surface).map((name) => [name, paramSchema(name, surface).optional()]));
  return z.strictObject(shape as { [K in ParamsOn<S>]: z.ZodOptional<z.ZodType<NonNullable<EditParams[K]>>> });
}

const LIBRARY_SCHEMA = z.strictObject(Object.fromEntries(EDIT_PARAM_NAMES.map((name) => [name, paramSchema(name).optional()])));

/**
 * Validates the parameters of an edit and fills in the defaults (fixed, or the model's). The one
 * place a parameter is checked: the editor calls it before any work, the server before it queues.
 */
export function resolveEditParams(model: ModelDefaults, params: EditParams): ResolvedEditParams {
  const given = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
  const parsed = LIBRARY_SCHEMA.safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue.code === "unrecognized_keys")
      throw new InvalidArgumentError(`unknown parameter '${issue.keys[0]}'; the parameters are ${EDIT_PARAM_NAMES.join(", ")}`, issue.keys[0]);
    throw new InvalidArgumentError(issue.message, String(issue.path[0]));
  }
  const defaults = Object.fromEntries(
    EDIT_PARAM_NAMES.flatMap((name) => {
      const spec: ParamSpec = EDIT_PARAMETERS[name];
      if (spec.type === "text") return [];
      return [[name, typeof spec.default === "object" ? model[spec.default.model] : spec.default]];
    }),
  );
  const resolved = { ...defaults, ...parsed.data } as ResolvedEditParams;
  if (resolved.regionThreshold > 0 && !model.regionHead) {
    throw new InvalidArgumentError(
      `regionThreshold must be 0: this ${model.variant} model has no region head (an MGIE model exported after its 'region' training stage has one)`,
      "regionThreshold",
    );
  }
  return resolved;
}
