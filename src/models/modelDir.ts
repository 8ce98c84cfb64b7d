import { z } from "zod";
import { type ModelDefaults, paramSchema } from "../core/params.js";
import { MgieError } from "../errors.js";
import type { ModelFiles } from "./modelFiles.js";
import { Tokenizer } from "./tokenizer.js";

/** The manifest.json of a model directory, as train/mgie_train/export.py writes it. */
const ComponentSchema = z.object({
  file: z.string(),
  bytes: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  inputs: z.array(z.string()),
  outputs: z.array(z.string()),
});

export const ManifestSchema = z.object({
  format: z.literal("mgie-model-1"),
  name: z.string(),
  variant: z.enum(["mgie-e2e", "mgie-ft", "mgie-fz", "lgie", "inspix2pix"]),
  resolution: z.number().int().positive(),
  latent: z.object({ channels: z.number().int().positive(), resolution: z.number().int().positive(), scale: z.number().positive() }),
  tokenizer: z.object({ file: z.string(), sha256: z.string() }),
  mllm: z
    .object({
      vision: z.boolean(),
      dim: z.number().int().positive(),
      layers: z.number().int().positive(),
      heads: z.number().int().positive(),
      head_dim: z.number().int().positive(),
      max_len: z.number().int().positive(),
      num_img_tokens: z.number().int().positive(),
      max_new_tokens: z.number().int().positive(),
      num_prefix: z.number().int().positive(),
    })
    .nullable(),
  text_encoder: z.object({ max_len: z.number().int().positive() }).nullable(),
  /** The frozen sentence encoder every model reads the instruction with (a folder shared by the models);
   * models exported before it read the instruction as BPE tokens and have none. */
  instruction_encoder: z
    .object({ format: z.literal("mgie-minilm-1"), path: z.string(), dim: z.number().int().positive(), max_tokens: z.number().int().positive() })
    .nullable()
    .default(null),
  /** Every expressive instruction the model was trained to give: decoding is held to these (absent: unconstrained). */
  expressive: z
    .object({ file: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), count: z.number().int().positive() })
    .nullable()
    .default(null),
  condition: z.object({ length: z.number().int().positive(), dim: z.number().int().positive() }),
  diffusion: z.object({
    train_steps: z.number().int().positive(),
    beta_schedule: z.literal("scaled_linear"),
    beta_start: z.number().positive(),
    beta_end: z.number().positive(),
    prediction: z.enum(["epsilon", "v", "sample"]),
    /** The model diffuses the change (target latent - input latent); the input latent is added back at the end. */
    residual: z.boolean().default(false),
    /** The change is added to the input as the orientation head turns it (the UNet is left only the colour part). */
    oriented_residual: z.boolean().default(false),
    /**
     * What the change is added to when turned: the input's latent turned ("turned-latent", the models
     * before), or the latent of the turned input image ("encoded": a flip is then a change of zero).
     */
    oriented_base: z.enum(["turned-latent", "encoded"]).default("turned-latent"),
    /** Decode the change: output = input + D(z_edited) - D(z_input), so the VAE's error cancels where nothing changes. */
    residual_decode: z.boolean().default(false),
    // The model's defaults of the edit parameters (EDIT_PARAMETERS says what each means and its range).
    // Manifests exported before the two thresholds existed have none: 0 keeps every change.
    change_threshold: paramSchema("changeThreshold").default(0),
    region_threshold: paramSchema("regionThreshold").default(0),
    steps: paramSchema("steps"),
    cfg_text: paramSchema("cfgText"),
    cfg_image: paramSchema("cfgImage"),
  }),
  components: z.record(z.string(), ComponentSchema),
  /** FLOPs of one call of each component at batch 1 (for the benchmark). */
  flops: z.record(z.string(), z.number().nonnegative()).default({}),
  training: z.record(z.string(), z.unknown()),
});
export type Manifest = z.infer<typeof ManifestSchema>;

/** The manifest's defaults for the edit parameters that default to the model's. */
export function modelDefaults(m: Manifest): ModelDefaults {
  const d = m.diffusion;
  return {
    steps: d.steps,
    cfgText: d.cfg_text,
    cfgImage: d.cfg_image,
    changeThreshold: d.change_threshold,
    regionThreshold: d.region_threshold,
    regionHead: m.components.region_head !== undefined,
    variant: m.variant,
  };
}

/** Components each variant must ship, and the region and orientation heads wherever the manifest uses or lists them. */
export function requiredComponents(m: Manifest): string[] {
  // The orientation head is optional (models exported before it have none); loaded wherever listed.
  const base = ["vae_encoder", "vae_decoder", "unet", ...(m.components.orientation_head ? ["orientation_head"] : [])];
  if (m.variant === "inspix2pix") return [...base, "text_encoder"];
  const region = m.components.region_head || m.diffusion.region_threshold > 0 ? ["region_head"] : [];
  return [...base, ...(m.mllm?.vision ? ["prefix"] : []), "embed", ...(m.instruction_encoder ? ["instruction"] : []), "lm", "edit_head", ...region];
}

export class ModelDirError extends MgieError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("MODEL_DIR", message, options);
    this.name = "ModelDirError";
  }
}

export interface ModelDir {
  /** Where it was read from (a path or a URL). */
  dir: string;
  manifest: Manifest;
  tokenizer: Tokenizer;
  /** Every expressive instruction the model was trained to give (null for a model without the list). */
  expressive: string[] | null;
  /** The folder of the shared instruction encoder (null for a model that reads BPE tokens). */
  instructionEncoder: ModelFiles | null;
  /** Bytes of each ONNX component, checked against the manifest's size and sha256. */
  files: Record<string, Uint8Array>;
}

/** Reads and validates a model directory: manifest schema, required components, sizes and hashes. */
export async function readModelDir(files: ModelFiles): Promise<ModelDir> {
  const dir = files.location;
  const manifestPath = files.where("manifest.json");
  let raw: string;
  try {
    raw = await files.readText("manifest.json");
  } catch (cause) {
    throw new ModelDirError(`${dir} is not an mgie model directory: no manifest.json (give --model a folder written by 'python3 -m mgie_train export')`, {
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (cause) {
    throw new ModelDirError(`${manifestPath} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const fmt = (json as { format?: unknown })?.format;
    if (fmt !== "mgie-model-1") throw new ModelDirError(`${manifestPath} has format ${JSON.stringify(fmt)}; this mgie reads mgie-model-1`);
    throw new ModelDirError(`${manifestPath} is invalid at ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  const manifest = parsed.data;
  if ((manifest.variant === "inspix2pix") !== (manifest.mllm === null)) {
    throw new ModelDirError(`${manifestPath}: variant ${manifest.variant} ${manifest.mllm ? "must not" : "must"} describe an MLLM`);
  }
  if (manifest.components.edit_head?.inputs.includes("cells") && !manifest.mllm?.vision) {
    throw new ModelDirError(`${manifestPath}: its edit head reads image cells, but its MLLM does not see the image`);
  }
  if (manifest.components.region_head && !manifest.components.edit_head?.inputs.includes("cells")) {
    throw new ModelDirError(`${manifestPath}: it lists a region head, which reads the per-cell rows of an edit head that reads image cells; this one does not`);
  }
  const names = requiredComponents(manifest);
  for (const name of names) {
    if (!manifest.components[name]) {
      const why =
        name === "region_head" ? `its diffusion.region_threshold (${manifest.diffusion.region_threshold}) needs` : `a ${manifest.variant} model needs`;
      throw new ModelDirError(`${manifestPath} lists no '${name}' component, which ${why}`);
    }
  }
  // Read and checked side by side; where several fail, the first in the order above is reported.
  const read = await Promise.allSettled([
    ...names.map((name) => {
      const c = manifest.components[name]!;
      return files.readChecked(c.file, c.bytes, c.sha256, `component '${name}'`);
    }),
    files.readChecked(manifest.tokenizer.file, null, manifest.tokenizer.sha256, "tokenizer"),
    ...(manifest.expressive ? [files.readChecked(manifest.expressive.file, null, manifest.expressive.sha256, "list of expressive instructions")] : []),
  ]);
  const failed = read.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  const data = read.map((r) => (r as PromiseFulfilledResult<Uint8Array>).value);
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  const components: Record<string, Uint8Array> = Object.fromEntries(names.map((name, i) => [name, data[i]]));
  const tokBytes = data[names.length];
  const tokenizer = Tokenizer.fromJSON(JSON.parse(text(tokBytes)), files.where(manifest.tokenizer.file));
  if (manifest.mllm && tokenizer.numImgTokens !== manifest.mllm.num_img_tokens) {
    throw new ModelDirError(`the tokenizer has ${tokenizer.numImgTokens} [IMG] tokens, the manifest ${manifest.mllm.num_img_tokens}`);
  }
  let expressive: string[] | null = null;
  if (manifest.expressive) {
    const list = z
      .array(z.string().min(1))
      .min(1)
      .safeParse(JSON.parse(text(data[names.length + 1])));
    if (!list.success || list.data.length !== manifest.expressive.count) {
      throw new ModelDirError(
        `${files.where(manifest.expressive.file)} is not the list of ${manifest.expressive.count} expressive instructions the manifest names`,
      );
    }
    expressive = list.data;
  }
  const instructionEncoder = manifest.instruction_encoder ? files.folder(manifest.instruction_encoder.path) : null;
  return { dir, manifest, tokenizer, files: components, expressive, instructionEncoder };
}
