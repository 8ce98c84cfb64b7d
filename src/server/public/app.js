// The mgie web page: pick an image, optionally paint where the edit may act (mask.js), say what to
// change, follow the edit live, compare, download the result at the photo's own size, and keep
// editing from it. Plain ES module, no build step; it talks to the API in api.js.
import { ApiError, cancelEdit, getConfig, getModels, getResultImage, jobEvents, submitEdit, token } from "./api.js";
import { DeviceEditor, deviceUnsupported } from "./device.js";
import { MaskBrush } from "./mask.js";

const $ = (id) => document.getElementById(id);
const form = $("edit-form");
const fileInput = $("image");
const instruction = $("instruction");
const editButton = $("edit-button");
const statusLine = $("status");
const progressBar = $("progress");
const errorLine = $("error");

const STAGES = {
  preprocess: { label: "Preparing the image", at: 0 },
  mllm: { label: "Reading the instruction", at: 0.05 },
  "edit-head": { label: "Imagining the edit", at: 0.1 },
  "vae-encode": { label: "Encoding the image", at: 0.12 },
  diffusion: { label: "Editing", at: 0.15 },
  "vae-decode": { label: "Decoding the result", at: 0.93 },
  render: { label: "Carrying the edit onto your photo", at: 0.96 },
};

/**
 * history: the images edits start from, oldest first: the upload, then each result the user
 * continued from. `current` is the one the next edit starts from. `result` is the latest edit.
 */
const state = { history: [], current: -1, result: null, busy: false, cancel: null };

/* ---------- messages ---------- */

function say(text) {
  statusLine.textContent = text;
}

function showError(text) {
  errorLine.textContent = text;
  errorLine.hidden = !text;
}

function showProgress(fraction) {
  progressBar.hidden = fraction === null;
  if (fraction !== null) progressBar.value = fraction;
}

function explain(err) {
  if (!(err instanceof ApiError)) return `Something went wrong: ${err.message}`;
  if (err.status === 401) {
    showTokenForm();
    return token.get() ? "That access token was not accepted: check it and enter it again." : "This server needs an access token: enter it above.";
  }
  if (err.status === 429) return `The server is busy. Try again in ${err.retryAfter ?? "a few"} seconds.`;
  // A request the model cannot do: its reason, and what it can do instead.
  if (err.code === "UNSUPPORTED_REQUEST") return `Not done: ${err.message}; the photo is unchanged. ${SUPPORTED}`;
  return capitalise(err.message);
}

const capitalise = (s) => s.charAt(0).toUpperCase() + s.slice(1);

const SUPPORTED =
  "mgie can change brightness, contrast, saturation and hue; make it black and white, sepia or negative; blur, sharpen, vignette or tint it; " +
  "flip or turn it; fix exposure and colour casts, liven it up or make it night; and recolour, remove, add, move, resize or reshape the shapes of a scene.";

/* ---------- access token ---------- */

function showTokenForm() {
  const tokenForm = $("token-form");
  if (!tokenForm.hidden) return;
  tokenForm.hidden = false;
  $("token").focus();
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  token.set($("token").value.trim());
  $("token-form").hidden = true;
  showError("");
  loadModel();
  instruction.focus();
});

/* ---------- model and settings ---------- */

/** The model's edit parameters, as GET /v1/models describes them; their controls have the parameter's name as id. */
let parameters = [];

function element(tag, attributes = {}, children = []) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

/** "Instruction guidance α_X" -> the label with X as a subscript. */
function labelText(label) {
  const m = /^(.*)_(\w)$/.exec(label);
  return m ? [m[1], element("sub", {}, [m[2]])] : [label];
}

/** The slider's step, or a finer one where the model's default lies between its marks: a range input snaps its value to them. */
function sliderStep(p) {
  let step = p.slider.step;
  const offset = p.default - p.min;
  while (step > 1e-6 && Math.abs(offset / step - Math.round(offset / step)) > 1e-6) step /= 10;
  return step;
}

function sliderControl(p) {
  const input = element("input", {
    id: p.name,
    name: p.name,
    type: "range",
    min: p.min,
    max: Math.max(p.slider.max, p.default),
    step: sliderStep(p),
    value: p.default,
    "aria-describedby": `${p.name}-hint`,
  });
  const output = element("output", { id: `${p.name}-value`, for: p.name });
  const update = () => (output.textContent = input.value);
  input.addEventListener("input", update);
  update();
  return element("div", { class: "slider", id: `${p.name}-slider` }, [
    element("label", { for: p.name }, labelText(p.label)),
    output,
    input,
    element("p", { id: `${p.name}-hint`, class: "hint" }, [`${capitalise(p.description)}.`]),
  ]);
}

function fieldControl(p) {
  const control =
    p.type === "choice"
      ? element(
          "select",
          { id: p.name, name: p.name },
          p.choices.map((c) => element("option", { value: c }, [c])),
        )
      : element("input", { id: p.name, name: p.name, type: "number", min: p.min, max: p.max, step: p.type === "integer" ? 1 : "any", inputmode: "numeric" });
  control.value = String(p.default);
  control.title = capitalise(p.description);
  const row = [control];
  if (p.name === "seed") {
    const button = element("button", { type: "button", id: "new-seed" }, ["New seed"]);
    button.addEventListener("click", () => (control.value = String(Math.floor(Math.random() * (p.max + 1)))));
    row.push(button);
  }
  return element("div", { class: "field" }, [element("label", { for: p.name, class: "label" }, labelText(p.label)), element("div", { class: "row" }, row)]);
}

/** The settings form: sliders for the parameters that have one, then the other fields side by side. */
function renderParameters(model) {
  // Only a model with a region head knows where its edit goes.
  parameters = model.parameters.filter((p) => p.name !== "regionThreshold" || model.regionHead);
  const fields = parameters.filter((p) => !p.slider).map(fieldControl);
  $("parameters").replaceChildren(...parameters.filter((p) => p.slider).map(sliderControl), element("div", { class: "inline-fields" }, fields));
}

function parameterValues() {
  return Object.fromEntries(parameters.map((p) => [p.name, $(p.name).value]));
}

async function loadModel() {
  try {
    const { models, limits } = await getModels();
    const m = models[0];
    $("model-info").textContent = `Model ${m.name} (${m.variant}), sees ${m.resolution}×${m.resolution} pixels; edits come back at the photo's own size`;
    instruction.maxLength = limits.maxInstructionChars;
    renderParameters(m);
  } catch (err) {
    showError(explain(err));
  }
}

/* ---------- input image and history ---------- */

function addToHistory(entry) {
  // Continuing from an earlier turn replaces the turns after it, as a browser's history does.
  for (const dropped of state.history.splice(state.current + 1)) URL.revokeObjectURL(dropped.url);
  state.history.push({ ...entry, url: URL.createObjectURL(entry.blob) });
  state.current = state.history.length - 1;
  renderInput();
}

/** The formats the server reads (a GIF's first frame); a HEIC goes too, for a server whose sharp decodes it (this one refuses it by name). */
const IMAGE_TYPES = /^image\/(jpeg|png|webp|gif|tiff|avif|hei[cf](-sequence)?)$/;
/** Browsers give no type (or a generic one) for some of them, HEIC and TIFF in particular: then the name decides. */
const IMAGE_EXTENSIONS = /\.(jpe?g|jfif|png|webp|gif|tiff?|avif|hei[cf])$/i;
const FORMAT_LIST = "JPEG, PNG, WebP, GIF, TIFF or AVIF";

function isImageFile(file) {
  if (IMAGE_TYPES.test(file.type)) return true;
  return (file.type === "" || file.type === "application/octet-stream") && IMAGE_EXTENSIONS.test(file.name);
}

function chooseFile(file) {
  if (!file) return;
  if (!isImageFile(file)) {
    showError(`${file.name} is not a ${FORMAT_LIST} image.`);
    return;
  }
  for (const entry of state.history) URL.revokeObjectURL(entry.url);
  state.history = [];
  state.current = -1;
  addToHistory({ blob: file, title: file.name });
  showError("");
  say(`${file.name} is the input. Type an instruction and press Edit.`);
}

/** Shows the current input with an empty mask over it: the mask belongs to the input it was painted on. */
function renderInput() {
  const entry = state.history[state.current];
  const preview = $("input-preview");
  if (entry && preview.getAttribute("src") !== entry.url) {
    brush.clear();
    showMaskTools(false); // until the preview has loaded: the mask is painted in its pixels
    preview.src = entry.url;
    preview.alt = `Input: ${entry.title}`;
    $("drop-text").textContent = "Drop or choose another image to start over";
  }
  renderHistory();
}

const maskStage = $("mask-stage");
const brush = new MaskBrush({ stage: maskStage, canvas: $("mask-canvas"), cursor: $("brush-cursor"), onChange: renderMaskStatus });

function showMaskTools(shown) {
  maskStage.hidden = !shown;
  $("mask-tools").hidden = !shown;
}

$("input-preview").addEventListener("load", (e) => {
  const img = e.target;
  brush.reset(img.naturalWidth, img.naturalHeight);
  showMaskTools(true);
});

// HEIC and TIFF, say, are for the server to read: a browser may not show them, so there is nothing to paint on.
$("input-preview").addEventListener("error", () => {
  const entry = state.history[state.current];
  if (!entry) return;
  showMaskTools(false);
  $("drop-text").textContent =
    `This browser cannot show ${entry.title}, but the server can edit it (all of it: a mask needs a preview). Drop or choose another image to start over.`;
});

function renderMaskStatus(painted) {
  $("mask-status").textContent = painted
    ? "The edit acts only where you painted; the rest of the image stays exactly as it is."
    : "Nothing painted: the edit may change the whole image.";
}
renderMaskStatus(false);

const brushSize = $("brush-size");
function updateBrushSize() {
  brush.size = Number(brushSize.value);
  $("brush-size-value").textContent = `${brushSize.value} px`;
}
brushSize.addEventListener("input", updateBrushSize);
updateBrushSize();

$("eraser").addEventListener("click", (e) => {
  brush.erasing = !brush.erasing;
  e.currentTarget.setAttribute("aria-pressed", String(brush.erasing));
  say(brush.erasing ? "Eraser on: painting now removes from the mask." : "Eraser off: painting adds to the mask.");
});

$("clear-mask").addEventListener("click", () => {
  const had = brush.painted;
  brush.clear();
  say(had ? "Mask cleared: the edit may change the whole image." : "There is no mask to clear.");
});

function renderHistory() {
  const list = $("history");
  list.replaceChildren(
    ...state.history.map((entry, i) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "history-item";
      if (i === state.current) button.setAttribute("aria-current", "step");
      const thumb = document.createElement("img");
      thumb.src = entry.url;
      thumb.alt = "";
      const text = document.createElement("span");
      const title = document.createElement("strong");
      title.textContent = i === 0 ? `Original: ${entry.title}` : `Turn ${i}: ${entry.title}`;
      text.append(title);
      if (entry.expressive) {
        const detail = document.createElement("span");
        detail.textContent = `understood as “${entry.expressive}”`;
        text.append(detail);
      }
      button.append(thumb, text);
      button.addEventListener("click", () => {
        state.current = i;
        renderInput();
        say(`${i === 0 ? "The original" : `Turn ${i}`} is the input again. Type an instruction and press Edit.`);
        instruction.focus();
      });
      item.append(button);
      return item;
    }),
  );
  $("history-panel").hidden = state.history.length < 2;
}

fileInput.addEventListener("change", () => chooseFile(fileInput.files[0]));

const dropZone = $("drop-zone");
dropZone.addEventListener("dragover", (e) => {
  e.preventDefault();
  dropZone.classList.add("dragging");
});
dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dragging"));
dropZone.addEventListener("drop", (e) => {
  e.preventDefault();
  dropZone.classList.remove("dragging");
  chooseFile(e.dataTransfer.files[0]);
});

/* ---------- where to edit: on this device or on the server ---------- */

/** web/config.json: {server, device, model, wasmPaths}; the device editor once chosen. */
let config = { server: true, device: false };
let device = null;

const where = () => ($("where-device").checked ? "device" : "server");
const megabytes = (n) => (n / 1e6).toFixed(1);

async function setUpWhere() {
  config = await getConfig();
  const why = config.device ? deviceUnsupported() : "this server offers no on-device editing";
  const canDevice = why === null;
  $("where").hidden = !(canDevice && config.server);
  $("where-device").disabled = !canDevice;
  $("where-server").disabled = !config.server;
  $("where-device").checked = canDevice;
  $("where-server").checked = !canDevice;
  if (!canDevice && !config.server) showError(`This page edits on the device only, and ${why}.`);
  for (const radio of [$("where-device"), $("where-server")]) radio.addEventListener("change", whereChanged);
  whereChanged();
}

function whereChanged() {
  if (where() === "server") {
    $("where-hint").textContent = "The photo is sent to the server, edited there and sent back.";
    $("model-progress").hidden = true;
    return;
  }
  loadDevice();
}

/** Loads the model into this browser (once): a progress bar while it downloads, then what it took. */
async function loadDevice() {
  const hint = $("where-hint");
  const bar = $("model-progress");
  device ??= new DeviceEditor(config);
  hint.textContent = "Loading the model into this browser…";
  try {
    const ready = await device.load(
      (p) => {
        bar.hidden = false;
        bar.value = p.total > 0 ? p.loaded / p.total : 0;
        hint.textContent = `Downloading the model: ${megabytes(p.loaded)} of ${megabytes(p.total)} MB`;
      },
      (measuring) => {
        bar.hidden = true;
        hint.textContent = `Timing ${measuring === "webgpu" ? "WebGPU" : "WebAssembly"} on this device to choose the faster (once)…`;
      },
    );
    bar.hidden = true;
    const source = ready.fetchedBytes === 0 ? "from this browser's cache" : `${megabytes(ready.fetchedBytes)} MB downloaded`;
    hint.textContent = `The photo stays on this device: the model runs here on ${ready.summary}; ${source}, ready in ${(ready.loadMs / 1000).toFixed(1)} s.`;
  } catch (err) {
    bar.hidden = true;
    device = null;
    hint.textContent = config.server ? "The model could not be loaded here: edit on the server instead." : "The model could not be loaded here.";
    showError(explain(err));
  }
}

/* ---------- editing ---------- */

form.addEventListener("submit", (e) => {
  e.preventDefault();
  if (!state.busy) edit();
});

function setBusy(busy) {
  state.busy = busy;
  $("cancel-button").hidden = !busy;
  // aria-disabled rather than disabled: a disabled button would lose the keyboard focus.
  editButton.setAttribute("aria-disabled", String(busy));
  editButton.textContent = busy ? "Editing…" : "Edit";
  form.setAttribute("aria-busy", String(busy));
}

async function edit() {
  const input = state.history[state.current];
  const text = instruction.value.trim();
  showError("");
  if (!input) {
    showError("Choose an image first.");
    fileInput.focus();
    return;
  }
  if (!text) {
    showError("Type an instruction first, for example “make it brighter”.");
    instruction.focus();
    return;
  }
  setBusy(true);
  showProgress(0);
  try {
    const mask = await brush.toBlob();
    const finished = where() === "device" ? await editOnDevice(input, text, mask) : await editOnServer(input, text, mask);
    showResult(input, finished.blob, text, finished);
    const ms = finished.timings.total;
    say(`Done in ${ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`}${where() === "device" ? " on this device" : ""}.`);
  } catch (err) {
    say("");
    showError(err instanceof ApiError && (err.code === "CANCELLED" || err.code === "ABORTED") ? "Cancelled: the input is as it was." : explain(err));
  } finally {
    state.cancel = null;
    showProgress(null);
    setBusy(false);
  }
}

async function editOnServer(input, text, mask) {
  say("Sending…");
  const fields = { instruction: text, ...parameterValues() };
  const job = await submitEdit(new File([input.blob], "input.png", { type: input.blob.type }), fields, mask);
  state.cancel = () => cancelEdit(job).catch(() => {});
  const finished = await follow(job);
  if (finished.status === "failed") throw new ApiError(500, finished.error.code, finished.error.message);
  return { ...finished, blob: await getResultImage(finished) };
}

/** The same edit in this browser: parameters as numbers, as the server would parse them. */
async function editOnDevice(input, text, mask) {
  say("Loading the model…");
  const values = parameterValues();
  const params = Object.fromEntries(parameters.map((p) => [p.name, p.type === "choice" ? values[p.name] : Number(values[p.name])]));
  const controller = new AbortController();
  state.cancel = () => controller.abort();
  await device.load();
  return device.edit(input.blob, params, text, mask, showStage, controller.signal);
}

$("cancel-button").addEventListener("click", () => {
  say("Cancelling…");
  state.cancel?.();
});

function showStage(data) {
  const stage = STAGES[data.stage];
  if (data.stage === "diffusion" && data.steps) {
    say(`${stage.label}: step ${data.step} of ${data.steps}`);
    showProgress(stage.at + (0.9 - stage.at) * (data.step / data.steps));
  } else {
    say(`${stage.label}…`);
    showProgress(stage.at);
  }
}

/** Follows the job's events until it is done or failed; resolves with the final job. */
async function follow(job) {
  for await (const { event, data } of jobEvents(job)) {
    if (event === "status" && data.status === "queued") {
      say(data.position === 1 ? "Waiting: next in line." : `Waiting: ${data.position - 1} edits ahead.`);
    } else if (event === "progress") {
      showStage(data);
    } else if (event === "done" || event === "failed") {
      return data;
    }
  }
  throw new Error("the server ended the progress stream before the edit finished; reload to check");
}

/** `job`: the finished edit, from the server or this device ({expressiveInstruction, timings}). */
function showResult(input, blob, text, job) {
  if (state.result) URL.revokeObjectURL(state.result.url);
  const url = URL.createObjectURL(blob);
  state.result = { blob, url, instruction: text, expressive: job.expressiveInstruction };
  $("compare").classList.remove("no-before");
  $("compare-control").hidden = false;
  $("before").src = input.url;
  $("after").src = url;
  $("result-size").textContent = "";
  showResultSize(url);
  $("expressive").textContent = job.expressiveInstruction;
  const download = $("download");
  download.href = url;
  download.download = `mgie-turn-${state.current + 1}.png`;
  $("timings").textContent = Object.entries(job.timings)
    .map(([stage, ms]) => `${stage} ${Math.round(ms)} ms`)
    .join(" · ");
  $("result").hidden = false;
  $("result").scrollIntoView({ block: "nearest" }); // on a phone the result is below the form
}

/** Once the result is decoded: its size, and the comparison box in its shape. */
async function showResultSize(url) {
  const after = $("after");
  try {
    await after.decode();
  } catch {
    return; // replaced by a newer result meanwhile, or not an image: the img shows its alt text
  }
  if (state.result?.url !== url) return;
  const { naturalWidth: w, naturalHeight: h } = after;
  $("compare").style.setProperty("--aspect", String(w / h));
  $("result-size").textContent = `${w}×${h} pixels, the photo's own size. The download is the full-size PNG.`;
}

// An input the browser cannot show (HEIC, TIFF): show the result whole, without the comparison.
$("before").addEventListener("error", () => {
  if (!$("before").getAttribute("src")) return;
  $("compare").classList.add("no-before");
  $("compare-control").hidden = true;
});

$("compare-range").addEventListener("input", (e) => {
  const value = Number(e.target.value);
  $("compare").style.setProperty("--split", `${value}%`);
  e.target.setAttribute("aria-valuetext", `${value}% result, ${100 - value}% input`);
});

$("continue").addEventListener("click", () => {
  const r = state.result;
  if (!r) return;
  addToHistory({ blob: r.blob, title: r.instruction, expressive: r.expressive });
  say(`The result is the input now (turn ${state.current}). Type the next instruction.`);
  instruction.value = "";
  instruction.focus();
});

loadModel();
setUpWhere();
