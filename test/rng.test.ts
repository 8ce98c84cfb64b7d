import { describe, expect, it } from "vitest";
import { Rng } from "../src/core/rng.js";

describe("Rng", () => {
  it("repeats the same sequence for the same seed and differs for another", () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 100 }, () => a.nextUint32());
    const sb = Array.from({ length: 100 }, () => b.nextUint32());
    const sc = Array.from({ length: 100 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it("keeps values in range and covers it", () => {
    const r = new Rng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const x = r.next();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      const k = r.int(3, 6);
      expect(k).toBeGreaterThanOrEqual(3);
      expect(k).toBeLessThanOrEqual(6);
      seen.add(k);
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6]);
  });

  it("has a roughly uniform mean", () => {
    const r = new Rng(1);
    let s = 0;
    for (let i = 0; i < 20000; i++) s += r.next();
    expect(s / 20000).toBeCloseTo(0.5, 1);
  });

  it("weighted picks follow the weights", () => {
    const r = new Rng(3);
    let a = 0;
    for (let i = 0; i < 10000; i++)
      if (
        r.weighted([
          ["a", 3],
          ["b", 1],
        ] as const) === "a"
      )
        a++;
    expect(a / 10000).toBeGreaterThan(0.72);
    expect(a / 10000).toBeLessThan(0.78);
  });
});
