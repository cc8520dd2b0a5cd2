/**
 * `deno task bench`: runs every benchmark and prints its table. Each benchmark measures its
 * baseline in the same run and reports medians and ratios, never a single absolute time.
 *
 * @module
 */
import { runEdgeBench } from "./edge_bench.ts";

await runEdgeBench();
