/**
 * Registers an integration test that runs against private servers and child processes.
 *
 * It opts out of Deno's op and resource sanitizers, for one reason: the mqtt.js and nats.js
 * clients (and child-process pipes) finish closing their sockets and timers asynchronously
 * after their `close()`/`end()` promises resolve, which the sanitizers report as leaks. Each
 * test still stops every server and process it started (`await using`, `finally`).
 */
export function integrationTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });
}

/**
 * Polls `check` every 100 ms until it gives a value other than undefined or false, and returns
 * it; fails naming `what` after `ms` (default 60 s).
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false>,
  what: string,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
