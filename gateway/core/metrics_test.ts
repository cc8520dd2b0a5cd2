import assert from "node:assert/strict";
import { Registry } from "./metrics.ts";

Deno.test("metrics render in Prometheus text format with labels, gauges and buckets", () => {
  const registry = new Registry();
  const errors = registry.counter("plantgate_errors_total", "Errors by code and stage.");
  errors.inc({ code: "invalid_json", stage: "decode" });
  errors.inc({ stage: "decode", code: "invalid_json" });
  registry.gauge("plantgate_backlog", "Events waiting.", () => 42);
  const latency = registry.histogram("plantgate_forward_seconds", "Latency.", [0.01, 0.1]);
  latency.observe(0.005);
  latency.observe(0.05);
  const text = registry.render();
  assert.match(text, /^plantgate_errors_total\{code="invalid_json",stage="decode"\} 2$/m);
  assert.match(text, /^plantgate_backlog 42$/m);
  assert.match(text, /^plantgate_forward_seconds_bucket\{le="0.01"\} 1$/m);
  assert.match(text, /^plantgate_forward_seconds_bucket\{le="0.1"\} 2$/m);
  assert.match(text, /^plantgate_forward_seconds_bucket\{le="\+Inf"\} 2$/m);
  assert.match(text, /^plantgate_forward_seconds_count 2$/m);
  assert.equal(errors.total(), 2);
});
