import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { Rng } from "../core/rng.js";
import { type CorrectionRequest, requestedCorrection } from "../data/edits/global.js";
import { requestedLocalEdit } from "../data/edits/local.js";
import { applyPhotoRequest, type PhotoRequest } from "../data/edits/photoshop.js";
import { type EditExample, fullMask } from "../data/example.js";
import type { EditRequest, LocalRequest, ObjectLooks } from "../data/language/request.js";
import { COLOR_NAMES, POSITIONS, SHAPES } from "../data/scene/objects.js";
import type { SynthEdit } from "../data/synthedit.js";
import { DataFormatError } from "../errors.js";

/**
 * The hand-written test sets (assets/eval/, README there): instructions written one by one, each with the
 * edit it asks for and the image to ask it of, built here from the test split's photos and from scenes
 * of the objects each line names. Only ever used for testing.
 */
export const HANDWRITTEN_FILE = fileURLToPath(new URL("../../assets/eval/handwritten.jsonl", import.meta.url));
export const HANDWRITTEN_UNSUPPORTED_FILE = fileURLToPath(new URL("../../assets/eval/handwritten-unsupported.jsonl", import.meta.url));

const CastName = z.enum(["orange", "blue", "green", "magenta"]);
const GlobalFamilyName = z.enum(["fix-lighting", "fix-colour", "enhance"]);
const Looks = z.object({ size: z.enum(["small", "large"]), color: z.enum(COLOR_NAMES), shape: z.enum(SHAPES) });
const Input = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("photo"),
    defect: z.enum(["fix-underexposure", "fix-overexposure", "boost-dull", "remove-cast"]).optional(),
    cast: CastName.optional(),
  }),
  z.object({ type: z.literal("scene"), objects: z.array(Looks).min(1).max(5) }),
]);
const InScopeLine = z.object({
  id: z.string(),
  instruction: z.string().min(1),
  op: z.string(),
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  family: z.string().nullable(),
  input: Input,
  expressive: z.string().min(1),
});
const UnsupportedLine = z.object({
  id: z.string(),
  instruction: z.string().min(1),
  reason: z.enum(["repertoire", "absent"]),
  input: Input,
  expressive: z.string().min(1),
});
type InScope = z.infer<typeof InScopeLine>;

async function readLines<T>(file: string, schema: z.ZodType<T>): Promise<T[]> {
  const text = await readFile(file, "utf8").catch((cause) => {
    throw new DataFormatError(`cannot read the hand-written test set ${file}`, { cause });
  });
  return text
    .split("\n")
    .filter((l) => l.trim().length > 0)
    .map((l, i) => {
      const parsed = schema.safeParse(JSON.parse(l));
      if (!parsed.success) throw new DataFormatError(`${file} line ${i + 1}: ${parsed.error.issues[0]?.message}`);
      return parsed.data;
    });
}

function looksOf(name: unknown): ObjectLooks {
  const parsed = Looks.safeParse(Object.fromEntries(["size", "color", "shape"].map((k, i) => [k, String(name).split(" ")[i]])));
  if (!parsed.success) throw new DataFormatError(`'${String(name)}' is not an object of a scene ("small red circle")`);
  return parsed.data;
}

/** The request a hand-written line asks for, in the generator's terms. */
function requestOf(line: InScope, scene: ObjectLooks[]): EditRequest {
  const p = line.params;
  const family = line.family ?? undefined;
  switch (line.op) {
    case "brightness":
    case "contrast":
    case "saturation": {
      const amount = Number(p.amount);
      return { op: line.op, increase: amount > 0, percent: Math.round(Math.abs(amount) * 100) as 20 | 40 | 60 };
    }
    case "hue":
      return { op: "hue", degrees: Number(p.degrees) as 90 | 180 | 270 };
    case "blur":
      return { op: "blur", strong: p.strength === "strong" };
    case "tint":
      return { op: "tint", color: Looks.shape.color.parse(p.color) };
    case "remove-cast":
      return {
        op: "remove-cast",
        cast: CastName.parse(p.cast ?? (line.input.type === "photo" ? line.input.cast : undefined)),
        family: GlobalFamilyName.optional().parse(family),
      };
    case "fix-underexposure":
    case "fix-overexposure":
    case "boost-dull":
    case "day-to-night":
      return { op: line.op, family: GlobalFamilyName.optional().parse(family) };
    case "recolour":
      return {
        op: "recolour",
        object: looksOf(p.object),
        color: Looks.shape.color.parse(p.color),
        scene,
        family: z.enum(["odd-shape", "odd-colour"]).optional().parse(family),
      };
    case "remove":
      return { op: "remove", object: looksOf(p.object), scene, family: z.enum(["biggest", "smallest"]).optional().parse(family) };
    case "add":
      return { op: "add", object: looksOf(p.object), position: z.enum(POSITIONS).parse(p.position), scene };
    case "move":
      return { op: "move", object: looksOf(p.object), direction: z.enum(["left", "right", "up", "down"]).parse(p.direction), scene };
    case "resize":
      return { op: "resize", object: looksOf(p.object), bigger: Boolean(p.bigger), scene };
    case "reshape":
      return { op: "reshape", object: looksOf(p.object), shape: z.enum(SHAPES).parse(p.shape), scene };
    default:
      return { op: line.op } as EditRequest;
  }
}

/** A stable seed per line, so each line's image is the same on every run. */
function seedOf(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619) >>> 0;
  return h;
}

function kindOf(op: string): EditExample["kind"] {
  if (["fix-underexposure", "fix-overexposure", "boost-dull", "day-to-night", "remove-cast"].includes(op)) return "global";
  return ["recolour", "remove", "add", "move", "resize", "reshape"].includes(op) ? "local" : "photoshop";
}

/** The in-scope hand-written set as examples (input, target, mask) at the generator's resolution. */
export async function handwrittenExamples(gen: SynthEdit, file = HANDWRITTEN_FILE): Promise<EditExample[]> {
  const out: EditExample[] = [];
  for (const [index, line] of (await readLines(file, InScopeLine)).entries()) {
    const seed = seedOf(line.id);
    const ctx = { rng: new Rng(seed), res: gen.res, split: "test" as const, photos: gen.photos };
    const scene = line.input.type === "scene" ? line.input.objects : [];
    const request = requestOf(line, scene);
    let built: Pick<EditExample, "input" | "target" | "mask" | "source">;
    if (line.input.type === "scene") built = await requestedLocalEdit(ctx, scene, request as LocalRequest);
    else if (kindOf(line.op) === "global") built = { ...(await requestedCorrection(ctx, request as CorrectionRequest)), mask: fullMask(gen.res) };
    else {
      const { image, ref } = await gen.photos.crop(ctx.rng, "test", gen.res);
      built = {
        input: image,
        target: applyPhotoRequest(image, request as PhotoRequest, gen.res),
        mask: fullMask(gen.res),
        source: { type: "photo", crop: ref },
      };
    }
    out.push({
      id: line.id,
      split: "test",
      index,
      seed,
      kind: kindOf(line.op),
      op: line.op,
      params: line.params,
      request,
      instruction: line.instruction,
      expressive: line.expressive,
      ambiguity: line.family,
      ...built,
    });
  }
  return out;
}

/** The hand-written requests mgie cannot do, on their images (the target is the input: nothing should change). */
export async function handwrittenUnsupported(gen: SynthEdit, file = HANDWRITTEN_UNSUPPORTED_FILE): Promise<EditExample[]> {
  const out: EditExample[] = [];
  for (const [index, line] of (await readLines(file, UnsupportedLine)).entries()) {
    const seed = seedOf(line.id);
    const ctx = { rng: new Rng(seed), res: gen.res, split: "test" as const, photos: gen.photos };
    const scene = line.input.type === "scene" ? line.input.objects : null;
    const built = scene
      ? await requestedLocalEdit(ctx, scene, null)
      : await gen.photos
          .crop(ctx.rng, "test", gen.res)
          .then(({ image, ref }) => ({ input: image, target: image, source: { type: "photo" as const, crop: ref } }));
    out.push({
      id: line.id,
      split: "test",
      index,
      seed,
      kind: scene ? "local" : "photoshop",
      op: "unsupported",
      params: { reason: line.reason },
      request: { op: "unsupported", reason: "repertoire", scene },
      instruction: line.instruction,
      expressive: line.expressive,
      ambiguity: null,
      input: built.input,
      target: built.input,
      mask: new Uint8Array(gen.res * gen.res),
      source: built.source,
    });
  }
  return out;
}
