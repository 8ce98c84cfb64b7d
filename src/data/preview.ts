import sharp, { type OverlayOptions } from "sharp";
import { type RgbImage, toUint8 } from "../image/raster.js";
import type { EditExample, EditKind } from "./example.js";
import type { Split } from "./splits.js";

/** One example as the contact sheet shows it: its images side by side, then its text. */
export interface SheetItem {
  id: string;
  kind: EditKind;
  op: string;
  instruction: string;
  expressive: string;
  ambiguity: string | null;
  /** Panels left to right, e.g. [input, target] or [input, output, target]. */
  images: RgbImage[];
  /** A line under the images for model outputs, e.g. "MGIE: brighten the underexposed photo". */
  note?: string;
  /** A title and a wrapped text under each panel; they replace the instruction lines under the row. */
  captions?: { title: string; text: string }[];
}

const PAD = 10;
const LINE = 17;
const CAPTION_LINES = 3;

/** Escapes text for SVG; control characters, which XML forbids (an untrained model may emit them), become U+FFFD. */
function xml(s: string): string {
  return (
    s
      // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters XML forbids
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "\ufffd")
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
  );
}

function clip(s: string, chars: number): string {
  return s.length <= chars ? s : `${s.slice(0, chars - 1)}…`;
}

/** Word-wraps into at most `lines` lines of `chars` characters, the last one clipped. */
function wrap(s: string, chars: number, lines: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of s.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > chars) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out.length <= lines ? out.map((l) => clip(l, chars)) : [...out.slice(0, lines - 1), clip(out.slice(lines - 1).join(" "), chars)];
}

/**
 * A contact sheet PNG: for each example, input | target side by side, and under them the kind and
 * operation (ambiguous ones flagged in red), the instruction as typed and the expressive instruction;
 * or, for items with captions, each panel's caption and then the kind and operation.
 */
export async function contactSheet(items: readonly SheetItem[], options: { columns?: number; scale?: number } = {}): Promise<Buffer> {
  if (items.length === 0) throw new RangeError("a contact sheet needs at least one example");
  const columns = Math.max(1, Math.min(options.columns ?? 2, items.length));
  const res = items[0].images[0].width;
  const panels = Math.max(...items.map((it) => it.images.length));
  const side = Math.round(res * (options.scale ?? 2));
  const cellW = panels * side + (panels + 1) * PAD;
  // Captioned rows: a title and CAPTION_LINES of text under the panels, then the kind and operation.
  const textLines = items.some((it) => it.captions) ? CAPTION_LINES + 2 : items.some((it) => it.note) ? 4 : 3;
  const cellH = side + PAD * 2 + textLines * LINE + 4;
  const rows = Math.ceil(items.length / columns);
  const width = columns * cellW;
  const height = rows * cellH;
  const chars = Math.floor(cellW / 7.6);

  const layers: OverlayOptions[] = [];
  const text: string[] = [];
  for (const [n, it] of items.entries()) {
    const x = (n % columns) * cellW;
    const y = Math.floor(n / columns) * cellH;
    for (const [k, img] of it.images.entries()) {
      const png = await sharp(Buffer.from(toUint8(img).buffer), { raw: { width: img.width, height: img.height, channels: 3 } })
        .resize(side, side, { kernel: "nearest" })
        .png()
        .toBuffer();
      layers.push({ input: png, left: x + PAD + k * (side + PAD), top: y + PAD });
    }
    const ty = y + PAD + side + LINE;
    const tag = it.ambiguity ? `<tspan fill="#c0392b" font-weight="bold">AMBIGUOUS (${xml(it.ambiguity)})</tspan> ` : "";
    const meta = (my: number) => `<text x="${x + PAD}" y="${my}" font-size="13" fill="#555">${tag}${xml(`${it.kind} · ${it.op} · ${it.id}`)}</text>`;
    if (it.captions) {
      const panelChars = Math.floor(side / 7);
      for (const [k, c] of it.captions.entries()) {
        // A nested viewport per panel clips text of wide glyphs that the character count underestimates.
        text.push(`<svg x="${x + PAD + k * (side + PAD)}" y="${y + PAD + side}" width="${side}" height="${(CAPTION_LINES + 1) * LINE + 5}">`);
        text.push(`<text x="0" y="${LINE}" font-size="13" font-weight="bold" fill="#111">${xml(clip(c.title, panelChars))}</text>`);
        for (const [l, line] of wrap(c.text, panelChars, CAPTION_LINES).entries()) {
          text.push(`<text x="0" y="${(l + 2) * LINE}" font-size="12" fill="#333">${xml(line)}</text>`);
        }
        text.push("</svg>");
      }
      text.push(meta(ty + (CAPTION_LINES + 1) * LINE));
      continue;
    }
    text.push(
      meta(ty),
      `<text x="${x + PAD}" y="${ty + LINE}" font-size="14" fill="#111">${xml(clip(`“${it.instruction}”`, chars))}</text>`,
      `<text x="${x + PAD}" y="${ty + 2 * LINE}" font-size="14" fill="#1a5276">${xml(clip(`→ ${it.expressive}`, chars))}</text>`,
    );
    if (it.note) text.push(`<text x="${x + PAD}" y="${ty + 3 * LINE}" font-size="14" fill="#7d3c98">${xml(clip(it.note, chars))}</text>`);
  }
  const svg = `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg" font-family="DejaVu Sans, sans-serif">${text.join("")}</svg>`;
  layers.push({ input: Buffer.from(svg), left: 0, top: 0 });
  return sharp({ create: { width, height, channels: 3, background: "#ffffff" } })
    .composite(layers)
    .png()
    .toBuffer();
}

/**
 * Scans a split from `start` and keeps a mix for the sheet: equal shares of Photoshop-style edits,
 * plain and ambiguous global edits, plain and ambiguous local edits.
 */
export async function pickBalanced(
  gen: { example(split: Split, index: number): Promise<EditExample> },
  split: Split,
  start: number,
  count: number,
): Promise<EditExample[]> {
  const groups = ["photoshop", "global", "global-ambiguous", "local", "local-ambiguous"];
  const quota = new Map(groups.map((g, i) => [g, Math.floor(count / groups.length) + (i < count % groups.length ? 1 : 0)]));
  const picked: EditExample[] = [];
  for (let i = start; picked.length < count && i < start + count * 50; i++) {
    const ex = await gen.example(split, i);
    const group = ex.ambiguity ? `${ex.kind}-ambiguous` : ex.kind;
    const left = quota.get(group) ?? 0;
    if (left > 0) {
      quota.set(group, left - 1);
      picked.push(ex);
    }
  }
  return picked;
}
