import { checkInstruction, type EditParams, type ResolvedEditParams, resolveEditParams } from "../core/params.js";
import { Rng } from "../core/rng.js";
import { InvalidArgumentError, MgieError } from "../errors.js";
import type { ImageCodec } from "../image/imageCodec.js";
import { DEFAULT_FIT, type ImageInput, ImageProcessor, type ModelFit } from "../image/processor.js";
import type { RgbImage } from "../image/raster.js";
import { bool, concatFloat32, f32, i64, type OnnxBackend, type OnnxSession, type TensorInput } from "../models/backend.js";
import { ExpressiveTrie } from "../models/expressiveTrie.js";
import { MiniLM } from "../models/minilm.js";
import { type Imagination, type InstructionInput, Mllm } from "../models/mllm.js";
import { type Manifest, type ModelDir, modelDefaults, readModelDir } from "../models/modelDir.js";
import type { ModelFiles } from "../models/modelFiles.js";
import type { Tokenizer } from "../models/tokenizer.js";
import { type ColorGridOptions, DEFAULT_COLOR_GRID } from "../render/colorGrid.js";
import { keepGain } from "../render/keep.js";
import { ORIENTATIONS, type Orientation, orientPlanes } from "../render/orientation.js";
import type { RenderInput, RenderResult } from "../render/renderer.js";
import { toEpsilon } from "../schedulers/prediction.js";
import { createScheduler } from "../schedulers/registry.js";
import type { Scheduler } from "../schedulers/scheduler.js";
import { keepSignificantChanges } from "./changeThreshold.js";
import { dualGuidance, guidanceGroups } from "./guidance.js";
import { keepInsideRegion } from "./region.js";
import { unsupportedReason } from "./unsupported.js";

function argmax(v: Float32Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** What an edit needs of the platform it runs on: Node (src/platform/node.ts) or the browser (src/platform/web.ts). */
export interface EditPlatform {
  /** Sessions of the model's ONNX components. */
  onnx: OnnxBackend;
  /** Decoding and resampling of images. */
  images: ImageCodec;
  /** Carries the model's edit onto the full-size photo. */
  renderer: { render(input: RenderInput): Promise<RenderResult> };
}

/** How the model sees a photo and how finely the renderer's colour transforms vary; both default to the measured choices. */
export interface ViewOptions {
  /** How the model sees a photo that is not square (see ModelFit). */
  fit?: ModelFit;
  /** How finely the renderer's colour transforms may vary (see ColorGrid). */
  grid?: ColorGridOptions;
}

/** A model opened on a platform: its files read and checked, a session per component, its decoders. */
export interface OpenedModel {
  model: ModelDir;
  sessions: Record<string, OnnxSession>;
  mllm: Mllm | null;
  /** The shared instruction encoder (null for a model that reads BPE tokens). */
  encoder: MiniLM | null;
  platform: EditPlatform;
}

/** Reads and checks a model folder and opens a session of each component on the platform's runtime. */
export async function openModel(files: ModelFiles, platform: EditPlatform): Promise<OpenedModel> {
  const model = await readModelDir(files);
  // onnxruntime-node builds each session on the main thread, so these run one after another; what makes
  // loading fast there is the optimised-model cache (src/platform/onnxNode.ts).
  const entries = await Promise.all(
    Object.entries(model.files).map(async ([name, bytes]) => {
      try {
        return [name, await platform.onnx.createSession(bytes, name)] as const;
      } catch (cause) {
        throw new MgieError("MODEL_DIR", `component '${name}' of ${files.location} does not load in ONNX Runtime: ${(cause as Error).message}`, { cause });
      }
    }),
  );
  const sessions: Record<string, OnnxSession> = Object.fromEntries(entries);
  const m = model.manifest;
  const encoder = model.instructionEncoder ? await MiniLM.open(model.instructionEncoder, platform.onnx) : null;
  const instruction: InstructionInput | null =
    encoder && m.instruction_encoder && sessions.instruction
      ? { encoder, projection: sessions.instruction, maxTokens: m.instruction_encoder.max_tokens }
      : null;
  const trie = model.expressive ? new ExpressiveTrie(model.expressive, model.tokenizer) : null;
  const mllm = m.mllm ? new Mllm(m.mllm, model.tokenizer, { prefix: sessions.prefix, embed: sessions.embed, lm: sessions.lm }, instruction, trie) : null;
  return { model, sessions, mllm, encoder, platform };
}

/** Releases a model's sessions (a model opened on a device that lost the browser's measurement, src/web/deviceChoice.ts). */
export async function closeModel(opened: OpenedModel): Promise<void> {
  await Promise.all([...Object.values(opened.sessions).map((s) => s.release()), opened.encoder?.release()]);
}

/** The edit parameters (see EDIT_PARAMETERS; any left out take their default), the output's size, progress and cancellation. */
export type BatchOptions = EditParams & {
  /** The result at the photo's own size (default), or only the model's result at its resolution. */
  fullSize?: boolean;
  /** Called as the edit goes: which stage, and the diffusion step. */
  onProgress?: (p: EditProgress) => void;
  signal?: AbortSignal;
};
export type EditOptions = BatchOptions & {
  /** Confines the edit: an image, white where the edit may act, black where the photo must stay exactly as it is. */
  mask?: ImageInput;
};
/** One edit of a batch. */
export interface EditItem {
  image: ImageInput;
  instruction: string;
  mask?: ImageInput;
}
/** The stages of an edit, in order (render: the model's edit carried onto the full-size photo). */
export const EDIT_STAGES = ["preprocess", "mllm", "edit-head", "vae-encode", "diffusion", "vae-decode", "render"] as const;
export interface EditProgress {
  stage: (typeof EDIT_STAGES)[number];
  step?: number;
  steps?: number;
}
export interface EditResult {
  /** The photo edited, at its own size (width x height after EXIF orientation, swapped by a quarter turn); the model's result with fullSize false. */
  image: RgbImage;
  /** The model's result at its resolution: its view of the whole photo, edited. */
  modelImage: RgbImage;
  /** The flip or rotation applied to the photo (the model's orientation choice; "identity" for none). */
  orientation: Orientation;
  /** The input's ICC profile (null: sRGB): give it to writeImage or encodeImage to keep the photo's colours right. */
  icc: Uint8Array | null;
  /** What the model understood the instruction to mean (the instruction itself for InsPix2Pix). */
  expressiveInstruction: string;
  /** Why the model did not edit (a request it cannot do): the image is returned as it was. Null when it edited. */
  unsupported: string | null;
  /** How sure the LM was of the expressive instruction: the geometric mean of its tokens' probabilities, 0-1 (null for InsPix2Pix). */
  confidence: number | null;
  /** Milliseconds per stage; for a batch, each stage's time for the whole batch. */
  timings: Record<string, number>;
  /** The final latent before decoding, [C, h, w] (for debugging and parity checks). */
  latent: Float32Array;
}

/** Test hook: fixed noise in place of the seeded generator, to compare with another implementation. */
export interface FixedNoise {
  initial: Float32Array;
  steps: Float32Array[];
}

/**
 * MGIE editing on any platform: the MLLM derives the expressive instruction and its visual
 * imagination, the edit head turns that into U, and the UNet denoises the latent with dual
 * classifier-free guidance (one batched UNet call per step), the VAE encoding and decoding.
 * The same class runs the LGIE and InsPix2Pix baselines from their model directories. MgieEditor
 * (Node: src/pipeline/editor.ts; browser: src/web/editor.ts) opens it on its platform.
 */
export class EditPipeline {
  private nullU: Float32Array | null = null;
  /** How a photo becomes the model's view and back. */
  readonly processor: ImageProcessor;
  readonly model: ModelDir;
  private readonly s: Record<string, OnnxSession>;
  private readonly mllm: Mllm | null;
  /** The shared instruction encoder (null for a model that reads BPE tokens). */
  private readonly encoder: MiniLM | null;
  /** Carries the model's edits onto the photos. */
  private readonly renderer: EditPlatform["renderer"];
  private readonly grid: ColorGridOptions;

  constructor(opened: OpenedModel, options: ViewOptions = {}) {
    this.model = opened.model;
    this.s = opened.sessions;
    this.mllm = opened.mllm;
    this.encoder = opened.encoder;
    this.renderer = opened.platform.renderer;
    this.grid = options.grid ?? DEFAULT_COLOR_GRID;
    this.processor = new ImageProcessor(opened.platform.images, opened.model.manifest.resolution, options.fit ?? DEFAULT_FIT);
  }

  get manifest(): Manifest {
    return this.model.manifest;
  }

  /** Whether the model ships a region head (where its edits change the image; see keepInsideRegion). */
  get hasRegionHead(): boolean {
    return this.s.region_head !== undefined;
  }

  get tokenizer(): Tokenizer {
    return this.model.tokenizer;
  }

  /**
   * Refuses an instruction this model cannot take (empty, too long, or over its prompt in its own
   * tokens) with an InvalidArgumentError, before any work: a server checks it before accepting an edit.
   */
  checkInstruction(instruction: string): void {
    const text = checkInstruction(instruction);
    if (this.encoder) this.statesLimit(text);
    else this.mllm?.checkPrompt(text);
  }

  /** The word pieces the model reads of an instruction (through MiniLM), refused above the model's limit. */
  private statesLimit(instruction: string): void {
    const max = this.manifest.instruction_encoder!.max_tokens;
    const pieces = this.encoder!.tokenizer.encode(instruction.trim(), Number.MAX_SAFE_INTEGER).ids.length;
    if (pieces > max) throw new InvalidArgumentError(`the instruction is ${pieces} word pieces; this model reads at most ${max}: shorten it`, "instruction");
  }

  async edit(image: ImageInput, instruction: string, options: EditOptions = {}): Promise<EditResult> {
    const { mask, ...rest } = options;
    return (await this.editBatch([{ image, instruction, mask }], rest))[0];
  }

  /** Several edits at once, batched through the VAE, edit head and UNet. */
  async editBatch(items: readonly EditItem[], options: BatchOptions = {}, noise?: FixedNoise): Promise<EditResult[]> {
    if (items.length === 0) throw new InvalidArgumentError("nothing to edit: give at least one image and instruction");
    const { onProgress, signal, fullSize = true, ...params } = options;
    if (!fullSize && items.some((it) => it.mask !== undefined)) {
      throw new InvalidArgumentError("a mask confines the full-size edit: leave fullSize on (no --model-resolution) to use one", "mask");
    }
    const o = resolveEditParams(modelDefaults(this.manifest), params);
    const m = this.manifest;
    const instructions = items.map((it) => checkInstruction(it.instruction));
    const timings: Record<string, number> = {};
    const progress = onProgress ?? (() => {});
    const checkAbort = () => {
      if (signal?.aborted) throw new MgieError("ABORTED", "the edit was cancelled");
    };
    const timed = async <T>(stage: EditProgress["stage"], f: () => Promise<T>): Promise<T> => {
      checkAbort();
      progress({ stage });
      const t0 = performance.now();
      const r = await f();
      timings[stage] = (timings[stage] ?? 0) + performance.now() - t0;
      return r;
    };
    const started = performance.now();
    const b = items.length;
    const res = m.resolution;

    const { photos, iccs, views, masks } = await timed("preprocess", async () => {
      const loaded = await Promise.all(items.map((it) => this.processor.load(it.image)));
      const photos = loaded.map((l) => l.image);
      const masks = await Promise.all(items.map((it, i) => (it.mask === undefined ? null : this.processor.mask(it.mask, photos[i].width, photos[i].height))));
      return { photos, iccs: loaded.map((l) => l.icc), views: await Promise.all(photos.map((photo) => this.processor.toModel(photo))), masks };
    });
    const pixels = views.map((v) => v.pixels);
    const batchPixels = concatFloat32(...pixels);

    const { u, nullU, texts, confidences } = await this.condition(pixels, instructions, o, timed);
    const refusals = texts.map((t) => (this.mllm ? unsupportedReason(t) : null));
    // A request the model cannot do: the photo comes back as it was, with the reason.
    const refused = (i: number): EditResult => ({
      image: fullSize ? photos[i] : views[i].image,
      modelImage: views[i].image,
      orientation: "identity",
      icc: iccs[i],
      expressiveInstruction: texts[i],
      unsupported: refusals[i],
      confidence: confidences[i],
      timings: { ...timings },
      latent: new Float32Array(0),
    });
    if (refusals.every((r) => r !== null)) {
      // Nothing to edit: no sampling at all.
      timings.total = performance.now() - started;
      return photos.map((_, i) => refused(i));
    }
    const context = () => f32(u, [b, m.condition.length, m.condition.dim]);
    const region = o.regionThreshold > 0 ? await timed("edit-head", async () => (await this.s.region_head.run({ context: context() })).region.data) : null;
    const orientations = this.s.orientation_head
      ? await timed("edit-head", async () => (await this.s.orientation_head.run({ context: context() })).orientation.data)
      : null;

    const zImg = await timed("vae-encode", async () => (await this.s.vae_encoder.run({ image: f32(batchPixels, [b, 3, res, res]) })).latent.data);
    const chosen = (i: number) => (orientations ? argmax(orientations.subarray(i * ORIENTATIONS.length, (i + 1) * ORIENTATIONS.length)) : 0);
    // A model with the oriented residual adds its change to the input turned as its orientation head chose.
    const ks = Array.from({ length: b }, (_, i) => chosen(i));
    const oriented = m.diffusion.oriented_residual && orientations !== null;
    const pixBase = oriented ? orientPlanes(batchPixels, 3, res, ks) : batchPixels;
    const zBase = !oriented
      ? zImg
      : m.diffusion.oriented_base === "encoded"
        ? await timed("vae-encode", () =>
            latentsOfTurned(zImg, pixBase, ks, async (pixels, n) => (await this.s.vae_encoder.run({ image: f32(pixels, [n, 3, res, res]) })).latent.data),
          )
        : orientPlanes(zImg, m.latent.channels, m.latent.resolution, ks);

    const d = m.diffusion;
    const sched = createScheduler(o.scheduler, { trainSteps: d.train_steps, betaStart: d.beta_start, betaEnd: d.beta_end }, o.steps);
    const z = await timed("diffusion", async () =>
      this.denoise(sched, zImg, zBase, b, u, nullU, o.cfgText, o.cfgImage, o.seed, noise, (i) => {
        checkAbort();
        progress({ stage: "diffusion", step: i + 1, steps: o.steps });
      }),
    );

    const { raw, modelImages } = await timed("vae-decode", async () => {
      const decoded = await this.decode(z, zBase, pixBase, b);
      const raw = fullSize ? this.processor.fromModel(decoded, b, false) : [];
      const kept = keepSignificantChanges(decoded, pixBase, res * res, o.changeThreshold);
      return { raw, modelImages: this.processor.fromModel(region ? keepInsideRegion(kept, pixBase, region, res * res, o.regionThreshold) : kept, b) };
    });
    const plane = res * res;
    const rendered = fullSize
      ? await timed("render", async () =>
          // Node's pool renders them one after the other, each on every core.
          Promise.all(
            photos.map((photo, i) =>
              this.renderer.render({
                photo,
                modelInput: views[i].image,
                modelOutput: raw[i],
                view: views[i].view,
                orientation: chosen(i),
                region: region ? region.subarray(i * plane, (i + 1) * plane).map((p) => keepGain(p, o.regionThreshold)) : null,
                changeThreshold: o.changeThreshold,
                mask: masks[i],
                grid: this.grid,
              }),
            ),
          ),
        )
      : null;
    timings.total = performance.now() - started;
    const per = z.length / b;
    return modelImages.map((modelImage, i) =>
      refusals[i] !== null
        ? refused(i)
        : {
            image: rendered ? rendered[i].image : modelImage,
            modelImage,
            orientation: ORIENTATIONS[rendered ? rendered[i].orientation : chosen(i)],
            icc: iccs[i],
            expressiveInstruction: texts[i],
            unsupported: null,
            confidence: confidences[i],
            timings: { ...timings },
            latent: z.slice(i * per, (i + 1) * per),
          },
    );
  }

  private async condition(
    pixels: Float32Array[],
    instructions: string[],
    o: ResolvedEditParams,
    timed: <T>(stage: EditProgress["stage"], f: () => Promise<T>) => Promise<T>,
  ): Promise<{ u: Float32Array; nullU: Float32Array; texts: string[]; confidences: (number | null)[] }> {
    if (!this.mllm) {
      return timed("edit-head", async () => {
        const u = await this.encodeRaw(instructions);
        return { u, nullU: await this.nullCondition(), texts: instructions, confidences: instructions.map(() => null) };
      });
    }
    const m = this.manifest;
    const mllm = this.mllm;
    const cfg = m.mllm!;
    const rng = new Rng(o.seed ^ 0x5bd1e995);
    const imaginations: Imagination[] = await timed("mllm", async () => {
      const out: Imagination[] = [];
      for (const [i, ins] of instructions.entries()) {
        const img = cfg.vision ? pixels[i] : null;
        out.push(
          o.expressive !== undefined
            ? await mllm.teacherForce(img, m.resolution, ins, o.expressive)
            : await mllm.imagine(img, m.resolution, ins, { temperature: o.temperature, topP: o.topP, rng }),
        );
      }
      return out;
    });
    return timed("edit-head", async () => {
      const b = instructions.length;
      const states = concatFloat32(...imaginations.map((im) => im.states));
      const cells = this.headReadsCells ? concatFloat32(...imaginations.map((im) => im.cells!)) : null;
      const u = (await this.s.edit_head.run(this.editHeadFeeds(states, cells, b))).context.data;
      return { u, nullU: await this.nullCondition(), texts: imaginations.map((im) => im.text), confidences: imaginations.map((im) => im.confidence) };
    });
  }

  /** InsPix2Pix's condition: its text encoder on the raw instructions (MiniLM's states, or BPE tokens for older models). */
  private async encodeRaw(instructions: string[]): Promise<Float32Array> {
    const n = instructions.length;
    if (this.encoder) {
      for (const ins of instructions) this.statesLimit(ins);
      const read = await this.encoder.encode(instructions.map((t) => t.trim()));
      const mask = read.tokens.flatMap((t) => Array.from({ length: read.length }, (_, j) => j < t));
      const feeds = { states: f32(read.states, [n, read.length, read.dim]), mask: bool(mask, [n, read.length]) };
      return (await this.s.text_encoder.run(feeds)).context.data;
    }
    const tok = this.tokenizer;
    const max = this.manifest.text_encoder!.max_len;
    const seqs = instructions.map((s) => [...tok.encode(s).slice(0, max - 1), tok.sep]);
    const width = Math.max(...seqs.map((s) => s.length));
    const ids = seqs.flatMap((s) => [...s, ...Array(width - s.length).fill(tok.pad)]);
    const mask = seqs.flatMap((s) => [...s.map(() => true), ...Array(width - s.length).fill(false)]);
    return (await this.s.text_encoder.run({ ids: i64(ids, [n, width]), mask: bool(mask, [n, width]) })).context.data;
  }

  /** Whether the edit head also reads the image tokens (models exported with it list a "cells" input). */
  private get headReadsCells(): boolean {
    return this.manifest.components.edit_head?.inputs.includes("cells") ?? false;
  }

  private editHeadFeeds(states: Float32Array, cells: Float32Array | null, b: number): Record<string, TensorInput> {
    const cfg = this.manifest.mllm!;
    const feeds: Record<string, TensorInput> = { img_hidden: f32(states, [b, cfg.num_img_tokens, cfg.dim]) };
    if (cells) feeds.cells = f32(cells, [b, cfg.num_prefix - 1, cfg.dim]);
    return feeds;
  }

  /**
   * The "no instruction" condition of guidance: the edit head applied to zeros (as in the official
   * code; zero image cells too), or the text encoder of an empty instruction. It depends only on the model: computed once.
   */
  private async nullCondition(): Promise<Float32Array> {
    if (!this.nullU) {
      const cfg = this.manifest.mllm;
      const zeroCells = cfg && this.headReadsCells ? new Float32Array((cfg.num_prefix - 1) * cfg.dim) : null;
      this.nullU = cfg
        ? (await this.s.edit_head.run(this.editHeadFeeds(new Float32Array(cfg.num_img_tokens * cfg.dim), zeroCells, 1))).context.data
        : await this.encodeRaw([""]);
    }
    return this.nullU;
  }

  /**
   * The diffusion loop: per step one UNet call on the batch [(V,U), (V,null), (null,null)], or on
   * (V,U) alone when both guidance scales are 1.
   */
  private async denoise(
    sched: Scheduler,
    zImg: Float32Array,
    zBase: Float32Array,
    b: number,
    u: Float32Array,
    nullU: Float32Array,
    cfgText: number,
    cfgImage: number,
    seed: number,
    fixed: FixedNoise | undefined,
    onStep: (i: number) => void,
  ): Promise<Float32Array> {
    const m = this.manifest;
    const c = m.latent.channels;
    const hw = m.latent.resolution * m.latent.resolution;
    const size = b * c * hw;
    const L = m.condition.length * m.condition.dim;
    const groups = guidanceGroups(cfgText, cfgImage);
    const rng = new Rng(seed);
    const initial = fixed?.initial ?? rng.gaussians(size);
    let x: Float32Array = initial.map((v) => v * sched.initNoiseSigma);
    const context = new Float32Array(groups * b * L);
    context.set(u, 0);
    for (let k = b; k < groups * b; k++) context.set(nullU, k * L);
    const latIn = new Float32Array(groups * b * 2 * c * hw);
    const item = 2 * c * hw;
    for (let k = 0; k < b; k++) {
      // The image latent rides along in (V,U) and (V,null); (null,null) keeps zeros there.
      for (let g = 0; g < Math.min(groups, 2); g++) latIn.set(zImg.subarray(k * c * hw, (k + 1) * c * hw), (g * b + k) * item + c * hw);
    }
    const dims = [groups * b, 2 * c, m.latent.resolution, m.latent.resolution];
    for (let i = 0; i < sched.timesteps.length; i++) {
      const scaled = sched.scaleModelInput(x, i);
      for (let g = 0; g < groups; g++) for (let k = 0; k < b; k++) latIn.set(scaled.subarray(k * c * hw, (k + 1) * c * hw), (g * b + k) * item);
      const out = (
        await this.s.unet.run({
          latent: f32(latIn, dims),
          timestep: f32(new Float32Array(groups * b).fill(sched.timesteps[i]), [groups * b]),
          context: f32(context, [groups * b, m.condition.length, m.condition.dim]),
        })
      ).noise.data;
      // Guidance weights sum to one, so guiding the UNet's output and converting once equals guiding the noise.
      const guided = groups === 1 ? out : dualGuidance(out, size, cfgText, cfgImage);
      const eps = toEpsilon(guided, scaled, sched.alphaCumprod(i), m.diffusion.prediction);
      const stepNoise = sched.stochastic && i + 1 < sched.timesteps.length ? (fixed?.steps[i] ?? rng.gaussians(size)) : undefined;
      x = sched.step(eps, i, x, stepNoise);
      onStep(i);
    }
    if (m.diffusion.residual) for (let k = 0; k < x.length; k++) x[k] += zBase[k];
    return x;
  }

  /**
   * Pixels of the edited latents, [b,3,res,res] in [-1,1]. With the manifest's residual_decode, the
   * change is decoded instead: input + D(z) - D(z_input), one decoder call on both.
   */
  private async decode(z: Float32Array, zImg: Float32Array, input: Float32Array, b: number): Promise<Float32Array> {
    const lat = this.manifest.latent;
    const dims = (n: number) => [n, lat.channels, lat.resolution, lat.resolution];
    if (!this.manifest.diffusion.residual_decode) return (await this.s.vae_decoder.run({ latent: f32(z, dims(b)) })).image.data;
    const both = (await this.s.vae_decoder.run({ latent: f32(concatFloat32(z, zImg), dims(2 * b)) })).image.data;
    const n = input.length;
    const out = new Float32Array(n);
    for (let k = 0; k < n; k++) out[k] = Math.min(1, Math.max(-1, input[k] + both[k] - both[n + k]));
    return out;
  }
}

/**
 * The latents a model with `oriented_base: "encoded"` adds its change to: `zImg` (the input's latents),
 * with each row that orientation `ks` turns replaced by the encoding of its turned pixels (`turned`,
 * [b,3,res,res]), which `encode` makes for n images at once. Rows left as they are keep their latent bit
 * for bit, and no encoder runs when nothing is turned.
 */
export async function latentsOfTurned(
  zImg: Float32Array,
  turned: Float32Array,
  ks: readonly number[],
  encode: (pixels: Float32Array, n: number) => Promise<Float32Array>,
): Promise<Float32Array> {
  const rows = ks.flatMap((k, i) => (k !== 0 ? [i] : []));
  if (rows.length === 0) return zImg;
  const pix = turned.length / ks.length;
  const per = zImg.length / ks.length;
  const input = new Float32Array(rows.length * pix);
  for (const [j, i] of rows.entries()) input.set(turned.subarray(i * pix, (i + 1) * pix), j * pix);
  const encoded = await encode(input, rows.length);
  const out = zImg.slice();
  for (const [j, i] of rows.entries()) out.set(encoded.subarray(j * per, (j + 1) * per), i * per);
  return out;
}
