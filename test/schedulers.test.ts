import { describe, expect, it } from "vitest";
import { keepSignificantChanges } from "../src/pipeline/changeThreshold.js";
import { dualGuidance, guidanceGroups } from "../src/pipeline/guidance.js";
import { keepInsideRegion } from "../src/pipeline/region.js";
import { DDIMScheduler } from "../src/schedulers/ddim.js";
import { EulerAncestralScheduler } from "../src/schedulers/eulerAncestral.js";
import { alphasCumprod } from "../src/schedulers/noiseSchedule.js";
import { toEpsilon } from "../src/schedulers/prediction.js";

const SD = { trainSteps: 1000, betaStart: 0.00085, betaEnd: 0.012 };

describe("noise schedule", () => {
  it("is scaled-linear: betas linear in sqrt(beta) from start to end", () => {
    const ac = alphasCumprod(SD);
    expect(ac[0]).toBeCloseTo(1 - 0.00085, 12);
    const b1 = (Math.sqrt(0.00085) + (Math.sqrt(0.012) - Math.sqrt(0.00085)) / 999) ** 2;
    expect(ac[1]).toBeCloseTo((1 - 0.00085) * (1 - b1), 12);
    expect(ac[999] / ac[998]).toBeCloseTo(1 - 0.012, 12);
    // Stable Diffusion's well-known final value.
    expect(ac[999]).toBeCloseTo(0.0047, 4);
  });
});

describe("DDIMScheduler", () => {
  it("spaces integer timesteps from 999 to 0", () => {
    expect(new DDIMScheduler(SD, 4).timesteps).toEqual([999, 666, 333, 0]);
    expect(new DDIMScheduler(SD, 1).timesteps).toEqual([999]);
  });

  it("takes one step by the closed form and ends on the predicted clean latent", () => {
    const s = new DDIMScheduler(SD, 4);
    const ac = alphasCumprod(SD);
    const x = Float32Array.of(0.5, -1.2);
    const eps = Float32Array.of(0.3, 0.1);
    const out = s.step(eps, 0, x);
    for (let k = 0; k < 2; k++) {
      const x0 = (x[k] - Math.sqrt(1 - ac[999]) * eps[k]) / Math.sqrt(ac[999]);
      expect(out[k]).toBeCloseTo(Math.sqrt(ac[666]) * x0 + Math.sqrt(1 - ac[666]) * eps[k], 5);
    }
    const last = s.step(eps, 3, x);
    expect(last[0]).toBeCloseTo((x[0] - Math.sqrt(1 - ac[0]) * eps[0]) / Math.sqrt(ac[0]), 5);
    expect(s.scaleModelInput(x)).toBe(x);
  });
});

describe("EulerAncestralScheduler", () => {
  const s = new EulerAncestralScheduler(SD, 3);
  const ac = alphasCumprod(SD);
  const sigma = (t: number) => Math.sqrt((1 - ac[t]) / ac[t]);

  it("interpolates sigmas at fractional timesteps and ends at 0", () => {
    expect(s.timesteps).toEqual([999, 499.5, 0]);
    expect(s.sigmas[0]).toBeCloseTo(sigma(999), 10);
    expect(s.sigmas[1]).toBeCloseTo((sigma(499) + sigma(500)) / 2, 10);
    expect(s.sigmas[3]).toBe(0);
    expect(s.initNoiseSigma).toBeCloseTo(Math.sqrt(sigma(999) ** 2 + 1), 10);
    expect(s.scaleModelInput(Float32Array.of(2), 0)[0]).toBeCloseTo(2 / Math.sqrt(sigma(999) ** 2 + 1), 5);
  });

  it("takes one ancestral step by hand", () => {
    const [s0, s1] = s.sigmas;
    const up = Math.sqrt((s1 * s1 * (s0 * s0 - s1 * s1)) / (s0 * s0));
    const down = Math.sqrt(s1 * s1 - up * up);
    const out = s.step(Float32Array.of(0.4), 0, Float32Array.of(3), Float32Array.of(-0.7));
    expect(out[0]).toBeCloseTo(3 + 0.4 * (down - s0) + -0.7 * up, 4);
    // The last step goes to sigma 0: the denoised estimate x - s * eps, no noise needed.
    const last = s.step(Float32Array.of(0.4), 2, Float32Array.of(3));
    expect(last[0]).toBeCloseTo(3 - s.sigmas[2] * 0.4, 5);
    expect(() => s.step(Float32Array.of(0.4), 0, Float32Array.of(3))).toThrow(/fresh noise/);
  });
});

describe("dualGuidance", () => {
  const eps = Float32Array.of(1, 2, 10, 20, 100, 200);

  it("reduces to the conditional prediction when both scales are 1", () => {
    expect(Array.from(dualGuidance(eps, 2, 1, 1))).toEqual([1, 2]);
  });

  it("follows eps(0,0) + aV (eps(V,0) - eps(0,0)) + aX (eps(V,U) - eps(V,0))", () => {
    const out = dualGuidance(eps, 2, 7.5, 1.5);
    expect(out[0]).toBeCloseTo(100 + 1.5 * (10 - 100) + 7.5 * (1 - 10), 4);
    expect(Array.from(dualGuidance(eps, 2, 0, 0))).toEqual([100, 200]);
    expect(() => dualGuidance(eps, 4, 1, 1)).toThrow(RangeError);
    expect(() => dualGuidance(eps, 3, 2, 1.5)).toThrow(RangeError);
  });

  it("needs only (V,U) and (V,0) at aV = 1, with the same result as all three", () => {
    expect(Array.from(dualGuidance(eps.subarray(0, 4), 2, 1.25, 1))).toEqual(Array.from(dualGuidance(eps, 2, 1.25, 1)));
    expect(guidanceGroups(1, 1)).toBe(1);
    expect(guidanceGroups(1.25, 1)).toBe(2);
    expect(guidanceGroups(1, 1.5)).toBe(3);
  });
});

describe("toEpsilon", () => {
  it("recovers the noise from v = sqrt(a) eps - sqrt(1 - a) x0 at x = sqrt(a) x0 + sqrt(1 - a) eps", () => {
    const a = 0.3;
    const x0 = [0.8, -0.4, 1.5];
    const eps = [-1.1, 0.25, 0.6];
    const x = Float32Array.from(x0, (v, k) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps[k]);
    const v = Float32Array.from(x0, (v, k) => Math.sqrt(a) * eps[k] - Math.sqrt(1 - a) * v);
    const got = toEpsilon(v, x, a, "v");
    eps.forEach((e, k) => {
      expect(got[k]).toBeCloseTo(e, 6);
    });
    expect(toEpsilon(v, x, a, "epsilon")).toBe(v);
  });

  it("recovers the noise from a clean-sample prediction", () => {
    const a = 0.7;
    const x0 = Float32Array.of(0.8, -0.4, 1.5);
    const eps = [-1.1, 0.25, 0.6];
    const x = Float32Array.from(x0, (v, k) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps[k]);
    const got = toEpsilon(x0, x, a, "sample");
    eps.forEach((e, k) => {
      expect(got[k]).toBeCloseTo(e, 5);
    });
    expect(() => toEpsilon(x0, x.subarray(1), a, "sample")).toThrow(/sample prediction of 3 values/);
  });

  it("uses each scheduler's alpha of the scaled model input", () => {
    const ac = alphasCumprod(SD);
    expect(new DDIMScheduler(SD, 4).alphaCumprod(1)).toBe(ac[666]);
    const e = new EulerAncestralScheduler(SD, 4);
    // Euler's model input is x / sqrt(sigma^2 + 1), whose alpha_cumprod is 1 / (sigma^2 + 1).
    expect(e.alphaCumprod(0)).toBeCloseTo(ac[999], 10);
    expect(e.alphaCumprod(3)).toBeCloseTo(ac[0], 10);
  });
});

describe("keepSignificantChanges", () => {
  // One image of four pixels, NCHW in [-1, 1]; largest change per pixel in [0, 1] units:
  // 0.01 (dropped), 0.03 (halfway up the ramp from 0.02 to 0.04), 0.05 (kept), 0.05 in one channel only (kept).
  const input = new Float32Array(12);
  const output = () => Float32Array.from([0.02, 0.06, 0.1, 0.1, 0.02, 0.06, 0.1, 0, -0.02, -0.06, -0.1, 0]);

  it("keeps the input below the threshold, the whole change from twice it, and scales linearly between", () => {
    const got = keepSignificantChanges(output(), input, 4, 0.02);
    const want = [0, 0.03, 0.1, 0.1, 0, 0.03, 0.1, 0, 0, -0.03, -0.1, 0];
    want.forEach((w, i) => {
      expect(got[i]).toBeCloseTo(w, 6);
    });
  });

  it("changes nothing at threshold 0 and refuses mismatched batches", () => {
    expect(Array.from(keepSignificantChanges(output(), input, 4, 0))).toEqual(Array.from(output()));
    expect(() => keepSignificantChanges(output(), new Float32Array(6), 4, 0.02)).toThrow(RangeError);
  });
});

describe("keepInsideRegion", () => {
  // Two images of two pixels, NCHW; the region's probability per pixel: below the threshold 0.25 (input
  // kept), halfway up the ramp to 0.5, at twice it, above it (the change kept whole).
  const input = new Float32Array(12);
  const output = () => new Float32Array(12).fill(0.5);
  const region = Float32Array.from([0.1, 0.375, 0.5, 0.9]);

  it("keeps the input outside the region, the whole change inside, and scales linearly between", () => {
    const got = keepInsideRegion(output(), input, region, 2, 0.25);
    const want = [0, 0.25, 0, 0.25, 0, 0.25, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
    want.forEach((w, i) => {
      expect(got[i]).toBeCloseTo(w, 6);
    });
  });

  it("changes nothing at threshold 0 and refuses mismatched batches", () => {
    expect(Array.from(keepInsideRegion(output(), input, region, 2, 0))).toEqual(Array.from(output()));
    expect(() => keepInsideRegion(output(), input, region.subarray(0, 2), 2, 0.25)).toThrow(RangeError);
  });
});
