import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { Rng } from "../src/core/rng.js";
import { latentsOfTurned } from "../src/pipeline/editPipeline.js";
import { createSession } from "../src/platform/onnxNode.js";
import { orientPlanes } from "../src/render/orientation.js";

const TINY = fileURLToPath(new URL("fixtures/tiny-model/", import.meta.url));

describe('oriented_base "encoded": what a turned edit\'s change is added to', () => {
  it("is the encoder's latent of each turned image, and the input's own latent where nothing turns", async () => {
    const manifest = JSON.parse(await readFile(join(TINY, "manifest.json"), "utf8")) as {
      resolution: number;
      latent: { channels: number; resolution: number };
    };
    const res = manifest.resolution;
    const session = await createSession(await readFile(join(TINY, "vae_encoder.onnx")), 1);
    let calls = 0;
    const encode = async (pixels: Float32Array, n: number) => {
      calls++;
      const out = await session.run({ image: new ort.Tensor("float32", pixels, [n, 3, res, res]) });
      return out.latent.data as Float32Array;
    };
    const rng = new Rng(3);
    const pixels = Float32Array.from({ length: 3 * 3 * res * res }, () => rng.uniform(-1, 1));
    const zImg = await encode(pixels, 3);
    const ks = [0, 1, 5];
    const turned = orientPlanes(pixels, 3, res, ks);
    const base = await latentsOfTurned(zImg, turned, ks, encode);
    const per = zImg.length / 3;
    const pix = 3 * res * res;
    expect(base.subarray(0, per)).toEqual(zImg.subarray(0, per));
    for (const i of [1, 2]) {
      const alone = await encode(turned.slice(i * pix, (i + 1) * pix), 1);
      const got = base.subarray(i * per, (i + 1) * per);
      for (let q = 0; q < per; q++) expect(got[q]).toBeCloseTo(alone[q], 5);
      // Not the turned latent: the encoder does not commute with a flip or a rotation.
      expect(got).not.toEqual(orientPlanes(zImg, manifest.latent.channels, manifest.latent.resolution, ks).subarray(i * per, (i + 1) * per));
    }
    calls = 0;
    expect(await latentsOfTurned(zImg, pixels, [0, 0, 0], encode)).toBe(zImg);
    expect(calls).toBe(0);
  });
});
