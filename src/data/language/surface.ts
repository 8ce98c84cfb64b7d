import type { Wording } from "./wording.js";

/**
 * How a request is typed, beyond its words: politeness, hedges, chatty context before or after,
 * casing, punctuation and the odd typo.
 */

const WRAPPERS = [
  "{}",
  "please {}",
  "{} please",
  "can you {}?",
  "could you {}?",
  "would you {}?",
  "could you please {}?",
  "can you please {}",
  "I want you to {}",
  "I'd like you to {}",
  "I need you to {}",
  "help me {}",
  "let's {}",
  "try to {}",
  "go ahead and {}",
  "just {}",
  "pls {}",
  "{} for me",
  "{}, thanks",
  "{} thx",
  "is it possible to {}?",
  "would it be possible to {}?",
  "how about you {}",
  "I think you should {}",
  "you should {}",
  "can we {}?",
  "I'd love it if you could {}",
  "mind if you {}?",
  "do me a favour and {}",
  "quickly {}",
  "{} if you can",
  "kindly {}",
];

const HEDGES = ["maybe", "perhaps", "kind of", "sort of", "I guess", "I think", "possibly", "probably"];

const BEFORE = [
  "hi!",
  "hey,",
  "ok so",
  "hello,",
  "quick one:",
  "this is from my holiday.",
  "my friend took this photo.",
  "I took this last weekend.",
  "this is for my blog.",
  "it's for instagram.",
  "so,",
  "hmm,",
  "right,",
  "for a school project:",
  "I'm printing this tomorrow.",
  "here's a picture of mine.",
  "my mum sent me this.",
  "this one's for a poster.",
  "new request:",
  "good morning!",
  "one more thing:",
  "alright,",
  "yo",
  "dear editor,",
  "sorry to bother you,",
  "I shot this on my phone.",
];

const AFTER = [
  "thanks!",
  "thank you",
  "thanks in advance",
  "cheers",
  "if that's possible",
  "when you get a chance",
  "no rush",
  "that would be great",
  "I'd appreciate it",
  "ty",
  "much appreciated",
  "if you don't mind",
  "that's all",
  "nothing else",
  "please and thank you",
  "for the printout",
  "it's for my portfolio",
  "before I post it",
];

/** Keys near each other on a QWERTY keyboard, for slips of the finger. */
const NEAR: Record<string, string> = {
  a: "qs",
  b: "vn",
  c: "xv",
  d: "sf",
  e: "wr",
  f: "dg",
  g: "fh",
  h: "gj",
  i: "uo",
  j: "hk",
  k: "jl",
  l: "k",
  m: "n",
  n: "bm",
  o: "ip",
  p: "o",
  r: "et",
  s: "ad",
  t: "ry",
  u: "yi",
  v: "cb",
  w: "qe",
  y: "tu",
};

/** One typo in a word of four letters or more: a swap, a dropped, doubled or neighbouring letter. */
function typo(w: Wording, word: string): string {
  const i = w.rng.int(1, word.length - 2);
  const kind = w.any(["swap", "drop", "double", "near"] as const);
  if (kind === "swap") return word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2);
  if (kind === "drop") return word.slice(0, i) + word.slice(i + 1);
  if (kind === "double") return word.slice(0, i) + word[i] + word.slice(i);
  const near = NEAR[word[i]];
  return near ? word.slice(0, i) + w.any([...near]) + word.slice(i + 1) : word;
}

function withTypos(w: Wording, text: string): string {
  const words = text.split(" ");
  const candidates = words.map((t, i) => (/^[a-z]{4,}$/.test(t) ? i : -1)).filter((i) => i >= 0);
  if (candidates.length === 0) return text;
  const i = w.any(candidates);
  words[i] = typo(w, words[i]);
  return words.join(" ");
}

/** The share of requests typed with a slip, as in people's own messages. */
const TYPO_SHARE = 0.06;

/**
 * A verb phrase ("brighten the photo a little") dressed as a whole request. A phrase marked with a
 * leading "~" is a statement or a fragment ("the colours look wrong", "b&w please"): dressed, never
 * wrapped ("can you …?").
 */
export function request(w: Wording, vp: string): string {
  if (vp.startsWith("~")) return dress(w, vp.slice(1));
  const bare = w.chance(0.55);
  let core = bare ? vp : w.pick(WRAPPERS).replace("{}", vp);
  if (bare && w.chance(0.1)) core = `${w.pick(HEDGES)} ${core}`;
  return dress(w, core);
}

/** Any sentence (a statement, a question, a fragment) with context, casing, punctuation and typos. */
export function dress(w: Wording, sentence: string): string {
  let text = sentence;
  if (w.chance(0.12)) text = `${w.pick(BEFORE)} ${text}`;
  if (w.chance(0.1)) text = `${text.replace(/[?.!]$/, "")}, ${w.pick(AFTER)}`;
  if (w.chance(TYPO_SHARE)) text = withTypos(w, text);
  const casing = w.any(["lower", "lower", "lower", "lower", "sentence", "sentence", "sentence", "upper"] as const);
  if (casing === "sentence") text = text[0].toUpperCase() + text.slice(1);
  else if (casing === "upper" && w.chance(0.2)) text = text.toUpperCase();
  if (!/[?!.)]$/.test(text)) text += w.any(["", "", "", ".", ".", "!", "!!", " :)"]);
  return text.replace(/\s+/g, " ").trim();
}

const NUMBER_WORDS: Record<number, string> = {
  20: "twenty",
  40: "forty",
  60: "sixty",
  90: "ninety",
  180: "one hundred and eighty",
  270: "two hundred and seventy",
};

/** A percentage as people type it: "40%", "40 percent", "forty per cent". */
export function percentText(w: Wording, n: number): string {
  if (w.chance(0.2)) return `${NUMBER_WORDS[n]}${w.any([" percent", " per cent"])}`;
  return `${n}${w.any(["%", "%", " %", " percent", " per cent", "pc"])}`;
}

/** An angle as people type it: "90 degrees", "90°", "ninety deg". */
export function degreesText(w: Wording, n: number): string {
  const number = w.chance(0.15) ? NUMBER_WORDS[n] : String(n);
  return `${number}${w.any([" degrees", " degrees", "°", " deg", " degree"])}`;
}
