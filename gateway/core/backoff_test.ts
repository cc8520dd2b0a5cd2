import assert from "node:assert/strict";
import { backoffDelay } from "./backoff.ts";

Deno.test("backoff doubles from the initial delay up to the cap", () => {
  const top = { initialMs: 100, maxMs: 1000, random: () => 0.999999 };
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((a) => Math.round(backoffDelay(a, top))), [
    100,
    200,
    400,
    800,
    1000,
    1000,
  ]);
});

Deno.test("backoff jitter stays between half and all of the capped delay", () => {
  assert.equal(backoffDelay(3, { initialMs: 100, maxMs: 10_000, random: () => 0 }), 400);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(50, { initialMs: 100, maxMs: 30_000 });
    assert.ok(d >= 15_000 && d <= 30_000, String(d));
  }
});
