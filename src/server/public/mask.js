// The mask brush: a canvas over the input preview, in the photo's own pixels, on which the user
// paints where the edit may act (mouse, touch or pen, through pointer events). The paint is kept
// opaque in the canvas and shown semi-transparent by the style sheet; the mask sent to the server is
// white where painted, black elsewhere, grey on the soft edge of a stroke.

/** The canvas is the photo's size, or proportionally smaller beyond this (the server resizes the mask). */
const MAX_MASK_PIXELS = 4096 * 4096;
const PAINT = "rgb(255 0 110)";

export class MaskBrush {
  /**
   * stage: the box holding the preview and the canvas; cursor: an outline that follows a mouse or
   * pen; onChange(painted) is called when the mask goes from empty to painted or back.
   */
  constructor({ stage, canvas, cursor, onChange }) {
    this.stage = stage;
    this.canvas = canvas;
    this.cursor = cursor;
    this.onChange = onChange;
    this.ctx = canvas.getContext("2d");
    /** The brush's diameter in CSS pixels on the screen (it paints the same on-screen size whatever the zoom). */
    this.size = 40;
    this.erasing = false;
    this.painted = false;
    this.stroke = null;
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", (e) => this.up(e));
    canvas.addEventListener("pointercancel", (e) => this.up(e));
    canvas.addEventListener("pointerleave", () => (this.cursor.hidden = true));
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  /** A new input of this size (its natural size): an empty mask. */
  reset(width, height) {
    const scale = Math.min(1, Math.sqrt(MAX_MASK_PIXELS / (width * height)));
    this.canvas.width = Math.max(1, Math.round(width * scale));
    this.canvas.height = Math.max(1, Math.round(height * scale));
    this.stage.style.setProperty("--aspect", String(width / height));
    this.stroke = null;
    this.setPainted(false);
  }

  clear() {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.stroke = null;
    this.setPainted(false);
  }

  setPainted(painted) {
    if (painted === this.painted) return;
    this.painted = painted;
    this.onChange(painted);
  }

  /** Canvas pixels per CSS pixel of the preview as shown. */
  scale() {
    const r = this.canvas.getBoundingClientRect();
    return r.width > 0 ? this.canvas.width / r.width : 1;
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    const k = this.scale();
    // A pen paints thinner when pressed lightly; mouse and touch report 0.5 or 0 and paint at full size.
    const pressure = e.pointerType === "pen" && e.pressure > 0 ? Math.max(0.2, e.pressure) : 1;
    return { x: (e.clientX - r.left) * k, y: (e.clientY - r.top) * k, width: this.size * k * pressure };
  }

  down(e) {
    if (this.stroke || (e.pointerType === "mouse" && e.button !== 0)) return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    const p = this.point(e);
    this.stroke = { id: e.pointerId, last: p };
    this.ctx.globalCompositeOperation = this.erasing ? "destination-out" : "source-over";
    this.ctx.fillStyle = PAINT;
    this.ctx.beginPath();
    this.ctx.arc(p.x, p.y, p.width / 2, 0, 2 * Math.PI);
    this.ctx.fill();
    if (!this.erasing) this.setPainted(true);
    this.showCursor(e);
  }

  move(e) {
    this.showCursor(e);
    if (!this.stroke || e.pointerId !== this.stroke.id) return;
    const ctx = this.ctx;
    ctx.strokeStyle = PAINT;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    // Coalesced events: every position the pointer passed since the last frame, for a smooth line.
    for (const event of e.getCoalescedEvents?.() ?? [e]) {
      const p = this.point(event);
      ctx.lineWidth = p.width;
      ctx.beginPath();
      ctx.moveTo(this.stroke.last.x, this.stroke.last.y);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
      this.stroke.last = p;
    }
  }

  up(e) {
    if (!this.stroke || e.pointerId !== this.stroke.id) return;
    this.stroke = null;
    if (this.erasing && this.painted) this.setPainted(!this.isEmpty());
  }

  showCursor(e) {
    // A touch has no hover: the finger itself shows where it paints.
    this.cursor.hidden = e.pointerType === "touch";
    if (this.cursor.hidden) return;
    const r = this.stage.getBoundingClientRect();
    this.cursor.style.setProperty("--x", `${e.clientX - r.left}px`);
    this.cursor.style.setProperty("--y", `${e.clientY - r.top}px`);
    this.cursor.style.setProperty("--size", `${this.size}px`);
    this.cursor.classList.toggle("erasing", this.erasing);
  }

  isEmpty() {
    const { data } = this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height);
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return false;
    return true;
  }

  /** The mask as a PNG (white where painted, black elsewhere), or null when nothing is painted. */
  async toBlob() {
    if (!this.painted || this.isEmpty()) return null;
    const { width, height } = this.canvas;
    const out = document.createElement("canvas");
    out.width = width;
    out.height = height;
    const ctx = out.getContext("2d");
    ctx.drawImage(this.canvas, 0, 0);
    ctx.globalCompositeOperation = "source-in"; // white, keeping the paint's coverage
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, width, height);
    ctx.globalCompositeOperation = "destination-over"; // black behind it
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, width, height);
    return new Promise((resolve, reject) =>
      out.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the mask could not be made into a PNG"))), "image/png"),
    );
  }
}
