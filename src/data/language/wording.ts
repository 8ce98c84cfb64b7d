import type { Rng } from "../../core/rng.js";
import type { Split } from "../splits.js";

/**
 * Held-out wording. Every choice of words (a sentence frame, a synonym, a chatty aside) belongs to one
 * split by a hash of its text, as photos belong to one by their source: 70 % train, 15 % validation,
 * 15 % test. The first option of each list is the common way to say it and is always in train, so
 * every edit can be asked for in training; validation and test sentences also use their own split's
 * words, so they measure understanding of wording the model never saw.
 */
const TRAIN_SHARE = 0.7;
const VALIDATION_SHARE = 0.15;

/** FNV-1a over the text's UTF-16 units, then MurmurHash3's finaliser (FNV alone leaves texts that differ
 * only at the end close together), as a fraction of 2^32. */
function unitHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32;
}

export function wordingSplit(text: string): Split {
  const u = unitHash(text.trim().toLowerCase());
  return u < TRAIN_SHARE ? "train" : u < TRAIN_SHARE + VALIDATION_SHARE ? "validation" : "test";
}

/** The word choices of one sentence, made for one split; remembers whether any was held out. */
export class Wording {
  heldOut = false;

  constructor(
    readonly rng: Rng,
    readonly split: Split,
  ) {}

  /** One of `options` that `split` may use (train's, or its own held-out ones; the first is train's). */
  pick(options: readonly string[]): string {
    const allowed = options.filter((o, i) => i === 0 || this.usable(o));
    const choice = this.rng.pick(allowed);
    if (choice !== options[0] && this.split !== "train" && wordingSplit(choice) === this.split) this.heldOut = true;
    return choice;
  }

  /** Like pick, over sentence builders named by a key (the frame's own text). */
  frame<T>(frames: readonly (readonly [string, T])[]): T {
    const chosen = this.pick(frames.map(([key]) => key));
    return frames.find(([key]) => key === chosen)![1];
  }

  /** A choice that carries no wording (spelling variants, punctuation): any split uses all of them. */
  any<T>(options: readonly T[]): T {
    return this.rng.pick(options);
  }

  /** A choice made only if the sentence uses it, so that a word never said does not count as held out. */
  lazy(choose: () => string): () => string {
    let made: string | undefined;
    return () => {
      made ??= choose();
      return made;
    };
  }

  chance(p: number): boolean {
    return this.rng.chance(p);
  }

  private usable(o: string): boolean {
    const s = wordingSplit(o);
    return s === "train" || s === this.split;
  }
}
