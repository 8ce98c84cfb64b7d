/**
 * Requests the model cannot do. A model trained on SynthEdit's out-of-scope requests answers them with
 * an expressive instruction of its own ("unsupported request", or "unsupported: there is no green star"
 * for an object the image lacks); the editor then leaves the image alone and says why.
 */

/** What mgie can edit, for telling someone whose request it cannot do. */
export const SUPPORTED_EDITS =
  "brightness, contrast, saturation and hue; black and white, sepia, negative, blur, sharpen, vignette and colour tints; " +
  "flips and quarter turns; fixing exposure and colour casts, making a photo livelier or turning day to night; " +
  "and recolouring, removing, adding, moving, resizing or reshaping the shapes of a scene";

/** Why the model did not edit, in words, when its expressive instruction refuses the request; null otherwise. */
export function unsupportedReason(expressive: string): string | null {
  const text = expressive.trim();
  if (!text.startsWith("unsupported")) return null;
  const absent = /^unsupported: there is no (.+)$/.exec(text);
  return absent ? `there is no ${absent[1]} in the image` : "this is not an edit mgie can make";
}
