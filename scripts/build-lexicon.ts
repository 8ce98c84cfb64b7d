/**
 * Derives SynthEdit's WordNet vocabulary (assets/language/wordnet.json) from Debian's `wordnet-base`
 * data files, and copies WordNet's licence beside it. Run once after changing the senses below:
 *
 *   apt-get install wordnet-base && npm run build-lexicon
 *
 * Two things come from WordNet: synonyms of the words people use for each edit (only the senses named
 * here, since a lemma's other senses are other meanings: "lighten" also means "cheer up"), and the
 * common nouns and verbs of things an editor of shapes and tones cannot do, for out-of-scope requests.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const WORDNET = process.env.WORDNET_DIR ?? "/usr/share/wordnet";
const LICENCE = "/usr/share/doc/wordnet-base/copyright";
const OUT = "assets/language";

type Pos = "noun" | "verb" | "adj" | "adv";

/** Senses whose synonyms a slot of the grammar takes: [lemma, part of speech, sense number (1 = most frequent)]. */
const SLOT_SENSES: Record<string, [string, Pos, number][]> = {
  brighten: [["brighten", "verb", 1]],
  darken: [
    ["darken", "verb", 3],
    ["dim", "verb", 3],
  ],
  blur: [
    ["blur", "verb", 2],
    ["blur", "verb", 3],
  ],
  blurry: [["blurry", "adj", 1]],
  sharpen: [["sharpen", "verb", 2]],
  sharp: [["sharp", "adj", 1]],
  enlarge: [
    ["enlarge", "verb", 1],
    ["enlarge", "verb", 2],
  ],
  shrink: [["shrink", "verb", 3]],
  remove: [
    ["remove", "verb", 1],
    ["remove", "verb", 3],
    ["erase", "verb", 2],
    ["delete", "verb", 1],
  ],
  insert: [
    ["insert", "verb", 2],
    ["put", "verb", 1],
  ],
  move: [
    ["move", "verb", 2],
    ["shift", "verb", 2],
  ],
  colour: [["color", "verb", 1]],
  tint: [["tint", "verb", 1]],
  invert: [["reverse", "verb", 2]],
  rotate: [["rotate", "verb", 1]],
  vivid: [["vivid", "adj", 3]],
  dull: [["dull", "adj", 3]],
  big: [["big", "adj", 1]],
  small: [["small", "adj", 1]],
};

/** Lemmas a slot must not take although WordNet lists them in the sense (wrong register or meaning here). */
const SLOT_EXCLUDE: Record<string, string[]> = {
  blur: ["obnubilate", "confuse", "obscure"],
  remove: ["withdraw", "take", "cancel", "efface", "score out"],
  insert: ["pose", "lay", "set", "infix", "enter", "introduce", "inclose", "enclose"],
  move: ["displace", "dislodge"],
  colour: ["color in", "colour in", "colorise", "colourise"],
  tint: ["tinct", "touch"],
  invert: ["turn back"],
  rotate: ["go around"],
  vivid: ["brilliant"],
  dull: ["muffled", "softened"],
  small: ["little"],
};

/** Lexicographer files of the out-of-scope nouns and verbs (WordNet's lexnames). */
const NOUN_FILES: Record<string, number> = { artifact: 6, animal: 5, food: 13, object: 17, person: 18, plant: 20 };
const VERB_FILES: Record<string, number> = { body: 29, motion: 38 };
/** Common words of those files that are no thing to see in a photo, or not words to put in a request. */
const NOT_VISIBLE = new Set(
  [
    "agent",
    "electron",
    "ion",
    "micelle",
    "diet",
    "feed",
    "female",
    "effect",
    "dispel",
    "encounter",
    "behave",
    "cure",
    "injure",
    "andrena",
    "buckskin",
    "anode",
    "arms",
    "art",
    "bond",
    "nigger",
    "slave",
    "murderer",
    "killer",
    "criminal",
    "thief",
    "quack",
    "redcoat",
    "liberal",
    "fool",
    "etcetera",
    "total",
    "subsection",
    "system",
    "manifold",
    "transducer",
    "cathode",
    "layer",
    "load",
    "piece",
    "product",
    "surface",
    "structure",
    "cover",
    "holder",
    "device",
    "equipment",
    "facility",
    "instrument",
    "machinery",
    "apparatus",
    "block",
    "bar",
    "cell",
    "well",
    "universe",
    "world",
    "strip",
    "sheet",
    "crop",
    "pollen",
    "seed",
    "root",
    "drug",
    "opium",
    "bomb",
    "bomber",
    "missile",
    "ammunition",
    "artillery",
    "gun",
    "pistol",
    "rifle",
    "musket",
    "cannon",
    "bullet",
    "weapon",
    "sword",
    "spirit",
    "soul",
    "character",
    "member",
    "owner",
    "maker",
    "private",
    "general",
    "master",
    "sir",
    "papa",
    "hero",
    "martyr",
    "victim",
    "foe",
    "antagonist",
    "petitioner",
    "claimant",
    "registrant",
    "consumer",
    "taxpayer",
    "stockholder",
    "applicant",
    "candidate",
    "mine",
    "push",
    "slide",
    "lift",
    "lower",
    "drop",
    "bring",
    "send",
    "pass",
    "head",
    "lead",
    "guide",
    "return",
    "leave",
    "stop",
    "near",
    "reach",
    "settle",
    "come",
    "meet",
    "follow",
    "enter",
    "land",
    "twist",
    "roll",
    "shake",
    "sweep",
    "thrust",
    "swing",
    "spring",
    "pace",
    "bleed",
    "spit",
  ]
    .join(" ")
    .split(" "),
);
/** Tagged-corpus frequency a first sense needs to count as a common word. */
const MIN_COUNT = { noun: 8, verb: 10 };
/** Words SynthEdit can edit, or that name the photo itself: never out of scope. */
const IN_SCOPE = new Set(
  [
    "circle",
    "square",
    "triangle",
    "star",
    "hexagon",
    "shape",
    "object",
    "thing",
    "photo",
    "photograph",
    "picture",
    "image",
    "shot",
    "light",
    "color",
    "colour",
    "tint",
    "cast",
    "contrast",
    "night",
    "day",
    "ring",
    "figure",
    "form",
    "mirror",
    "negative",
    "print",
    "filter",
    "frame",
    "blur",
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "white",
    "black",
    "brown",
    "grey",
    "gray",
    "flip",
    "turn",
    "rotate",
    "spin",
    "move",
    "shift",
    "remove",
    "add",
    "paint",
    "draw",
    "brighten",
    "darken",
    "shrink",
    "grow",
  ].map((w) => w.toLowerCase()),
);

interface Synset {
  lemmas: string[];
  /** A proper noun's synset (its lemmas are capitalised): "Africa", "Adam". */
  proper: boolean;
  lexFile: number;
}

function readSynset(pos: Pos, offset: number): Synset {
  const fd = readFileSync(join(WORDNET, `data.${pos}`));
  const end = fd.indexOf(10, offset);
  const fields = fd.subarray(offset, end).toString("latin1").split("|")[0].trim().split(/\s+/);
  const count = Number.parseInt(fields[3], 16);
  const raw = Array.from({ length: count }, (_, i) => fields[4 + 2 * i].replace(/\(.*\)$/, "").replace(/_/g, " "));
  return { lemmas: raw.map((l) => l.toLowerCase()), proper: raw.some((l) => /^[A-Z]/.test(l)), lexFile: Number(fields[1]) };
}

/** lemma -> synset offsets in sense order, from index.<pos>. */
function readIndex(pos: Pos): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const line of readFileSync(join(WORDNET, `index.${pos}`), "latin1").split("\n")) {
    if (line.length === 0 || line.startsWith(" ")) continue;
    const f = line.trim().split(/\s+/);
    const senses = Number(f[2]);
    const pointers = Number(f[3]);
    out.set(f[0], f.slice(6 + pointers, 6 + pointers + senses).map(Number));
  }
  return out;
}

const indexes = { noun: readIndex("noun"), verb: readIndex("verb"), adj: readIndex("adj"), adv: readIndex("adv") };

function slot(name: string): string[] {
  const words = new Set<string>();
  for (const [lemma, pos, sense] of SLOT_SENSES[name]) {
    const offsets = indexes[pos].get(lemma.replace(/ /g, "_"));
    if (!offsets || offsets.length < sense) throw new Error(`WordNet has no sense ${sense} of ${pos} '${lemma}' (is wordnet-base 3.0 installed?)`);
    for (const l of readSynset(pos, offsets[sense - 1]).lemmas) if (!SLOT_EXCLUDE[name]?.includes(l)) words.add(l);
  }
  return [...words].sort();
}

/** Common single-word lemmas whose most frequent sense is in one of `files`, by tagged-corpus count. */
function commonWords(pos: "noun" | "verb", files: Record<string, number>): Record<string, string[]> {
  const counts = new Map<string, number>();
  for (const line of readFileSync(join(WORDNET, "cntlist.rev"), "latin1").split("\n")) {
    const [key, sense, count] = line.split(" ");
    if (sense !== "1" || !key) continue;
    const [lemma, rest] = key.split("%");
    if (rest?.[0] !== (pos === "noun" ? "1" : "2")) continue;
    counts.set(lemma, Number(count));
  }
  const out: Record<string, string[]> = Object.fromEntries(Object.keys(files).map((k) => [k, [] as string[]]));
  const byFile = new Map(Object.entries(files).map(([k, v]) => [v, k]));
  for (const [lemma, offsets] of indexes[pos]) {
    if (!/^[a-z]{3,12}$/.test(lemma) || IN_SCOPE.has(lemma) || NOT_VISIBLE.has(lemma) || (counts.get(lemma) ?? 0) < MIN_COUNT[pos]) continue;
    const first = readSynset(pos, offsets[0]);
    const group = byFile.get(first.lexFile);
    if (group && !first.proper) out[group].push(lemma);
  }
  for (const k of Object.keys(out)) out[k].sort();
  return out;
}

const derived = {
  source: "WordNet 3.0 (Princeton University), Debian package wordnet-base; see WORDNET-LICENSE",
  generatedBy: "scripts/build-lexicon.ts",
  slots: Object.fromEntries(Object.keys(SLOT_SENSES).map((k) => [k, slot(k)])),
  outOfScope: { nouns: commonWords("noun", NOUN_FILES), verbs: commonWords("verb", VERB_FILES) },
};
mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, "wordnet.json"), `${JSON.stringify(derived, null, 1)}\n`);
copyFileSync(LICENCE, join(OUT, "WORDNET-LICENSE"));
const nouns = Object.values(derived.outOfScope.nouns).flat().length;
const verbs = Object.values(derived.outOfScope.verbs).flat().length;
console.log(`wrote ${join(OUT, "wordnet.json")}: ${Object.keys(derived.slots).length} synonym slots, ${nouns} out-of-scope nouns, ${verbs} verbs`);
