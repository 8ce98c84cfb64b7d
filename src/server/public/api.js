// The page's client of the mgie HTTP API (see /openapi.json). Every request carries the bearer
// token when one is set, which is why events and images are fetched rather than given to
// EventSource or <img src>: those cannot send an Authorization header.

const TOKEN_KEY = "mgie-token";

/** An error answer of the API: `status` is the HTTP status, `code` and `message` come from the body. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? "",
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
};

async function request(path, init = {}) {
  const headers = new Headers(init.headers);
  const t = token.get();
  if (t) headers.set("authorization", `Bearer ${t}`);
  let response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch {
    throw new ApiError(0, "NETWORK", "cannot reach the mgie server: is it still running?");
  }
  if (response.ok) return response;
  let code = `HTTP_${response.status}`;
  let message = `the server answered ${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    code = body.error.code;
    message = body.error.message;
  } catch {
    // Not one of the API's JSON errors (a proxy's page, say): keep the status line.
  }
  const retryAfter = Number(response.headers.get("retry-after")) || undefined;
  throw new ApiError(response.status, code, message, retryAfter);
}

export async function getModels() {
  // Relative: a static build of the page (mgie build-web) has this answer as a file beside it.
  return (await request("v1/models")).json();
}

/**
 * Queues an edit; resolves with the job (status queued or running). `mask`, when given, is an image
 * (any size: the server resizes it), white where the edit may act and black where the photo stays as it is.
 */
export async function submitEdit(image, fields, mask = null) {
  const form = new FormData();
  form.append("image", image, image.name ?? "image.png");
  if (mask) form.append("mask", mask, "mask.png");
  for (const [name, value] of Object.entries(fields)) form.append(name, String(value));
  return (await request("/v1/edits", { method: "POST", body: form })).json();
}

/** Asks the server to cancel a queued or running edit. */
export async function cancelEdit(job) {
  return (await request(job.links.self, { method: "DELETE" })).json();
}

/** The page's settings: whether a server edits, where the on-device editor finds the model and its runtime. */
export async function getConfig() {
  const response = await fetch("web/config.json").catch(() => null);
  return response?.ok ? response.json() : { server: true, device: false };
}

export async function getResultImage(job) {
  return (await request(job.links.image)).blob();
}

/**
 * Yields the job's Server-Sent Events as {event, data} until the server ends the stream (after
 * `done` or `failed`), or `signal` aborts.
 */
export async function* jobEvents(job, signal) {
  const response = await request(job.links.events, { headers: { accept: "text/event-stream" }, signal });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length > 0) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}
