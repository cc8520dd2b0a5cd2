/**
 * `deno task bench`: runs every benchmark and prints its table. Each benchmark measures its
 * baseline in the same run and reports medians and ratios, never a single absolute time.
 * `deno task bench edge` or `deno task bench central` runs one of them.
 *
 * @module
 */
import { runCentralBench } from "./central_bench.ts";
import { runEdgeBench } from "./edge_bench.ts";

const which = Deno.args[0] ?? "all";
if (!["all", "edge", "central"].includes(which)) {
  console.error(`Usage: deno task bench [edge|central] (got "${which}")`);
  Deno.exit(2);
}
if (which !== "central") await runEdgeBench();
if (which !== "edge") await runCentralBench();
