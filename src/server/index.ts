/** mgie/server: the HTTP API and web page over an MgieEditor. */
export { createServer, DEFAULT_SERVER_OPTIONS } from "./app.js";
export type { JobRecord, JobStore } from "./jobStore.js";
export { openApiDocument } from "./openapi.js";
export { startEditWorker } from "./redisWorker.js";
