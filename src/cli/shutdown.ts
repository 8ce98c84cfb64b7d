/**
 * A long-running command's graceful stop: the first SIGINT or SIGTERM says what is finishing and calls
 * `close`; a second one exits at once, saying `again` (what becomes of the unfinished work).
 */
export function stopOnSignals(name: string, close: () => Promise<void>, messages: { finishing: string; again: string }): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      console.error(`${name}: ${signal} again, exiting now (${messages.again})`);
      process.exit(1);
    }
    stopping = true;
    console.error(`${name}: ${signal}: ${messages.finishing}, then stopping (${signal} again to stop now)`);
    close().then(
      () => console.error(`${name}: stopped`),
      (err: unknown) => {
        console.error(`${name}: shutdown failed: ${(err as Error).message}`);
        process.exitCode = 2;
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}
