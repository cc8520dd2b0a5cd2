import { errorMessage, PlantgateError } from "../core/errors.ts";
import type { Plugin } from "../core/plugin.ts";
import { BUILTIN_PLUGINS } from "../../plugins/mod.ts";

function looksLikePlugin(value: unknown): value is Plugin {
  const p = value as Partial<Plugin> | null;
  return typeof p === "object" && p !== null && typeof p.name === "string" &&
    typeof p.version === "string" && typeof p.decode === "function";
}

/**
 * The plugins available to an edge: the built-ins plus the site plugins named by path in the
 * config (loaded at start-up; no directory scanning). A site plugin may not shadow a built-in.
 */
export async function loadPlugins(paths: string[]): Promise<Map<string, Plugin>> {
  const plugins = new Map(BUILTIN_PLUGINS);
  for (const path of paths) {
    let module: { default?: unknown };
    try {
      const url = path.startsWith("/")
        ? new URL(`file://${path}`)
        : new URL(path, `file://${Deno.cwd()}/`);
      module = await import(url.href);
    } catch (error) {
      throw new PlantgateError(
        "plugin_load_failed",
        `Cannot load plugin "${path}": ${errorMessage(error)}`,
        { cause: error },
      );
    }
    if (!looksLikePlugin(module.default)) {
      throw new PlantgateError(
        "plugin_load_failed",
        `Cannot load plugin "${path}": its default export is not a plugin (use \`export default definePlugin({ name, version, description, decode })\`)`,
      );
    }
    const plugin = module.default;
    if (plugins.has(plugin.name)) {
      throw new PlantgateError(
        "plugin_load_failed",
        `Cannot load plugin "${path}": the name "${plugin.name}" is already taken${
          BUILTIN_PLUGINS.has(plugin.name) ? " by a built-in plugin" : ""
        }`,
      );
    }
    plugins.set(plugin.name, plugin);
  }
  return plugins;
}
