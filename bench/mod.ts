/**
 * `deno task bench`: runs every benchmark and prints its table. Each benchmark measures its
 * baseline in the same run and reports medians and ratios, never a single absolute time.
 * `deno task bench edge`, `deno task bench central` or `deno task bench jobs` runs one of them.
 *
 * @module
 */
import { runCentralBench } from "./central_bench.ts";
import { runEdgeBench } from "./edge_bench.ts";
import { runJobsBench } from "./jobs_bench.ts";

const which = Deno.args[0] ?? "all";
if (!["all", "edge", "central", "jobs"].includes(which)) {
  console.error(`Usage: deno task bench [edge|central|jobs] (got "${which}")`);
  Deno.exit(2);
}
if (which === "all" || which === "edge") await runEdgeBench();
if (which === "all" || which === "central") await runCentralBench();
if (which === "all" || which === "jobs") await runJobsBench();
