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
