/**
 * The built-in plugins, registered statically (compiled binaries cannot import files that were
 * not present at compile time). Site plugins are named by path in the config.
 *
 * @module
 */
import type { Plugin } from "../gateway/mod.ts";
import dynamics from "./dynamics/mod.ts";
import infor from "./infor/mod.ts";
import sap from "./sap/mod.ts";

/** Built-in plugins by name. */
export const BUILTIN_PLUGINS: ReadonlyMap<string, Plugin> = new Map<string, Plugin>(
  [sap, dynamics, infor].map((p) => [p.name, p]),
);
