import { isDeepStrictEqual } from "node:util";
import type { CanonicalLotEvent } from "./canonical_event.ts";
import { errorMessage } from "./errors.ts";
import type { Plugin } from "./plugin.ts";
import { bindPlugin, decodeNative } from "./plugin_runtime.ts";

/**
 * A golden fixture: one native message in, the canonical events (or the error) out.
 * Files live in `plugins/<name>/fixtures/*.json`.
 *
 * @example
 * ```json
 * { "description": "101 receipt creates the lot", "timeZone": "Europe/Berlin",
 *   "native": { "...": "..." },
 *   "expect": [{ "schemaVersion": 1, "eventId": "...", "eventType": "LOT_CREATED", "...": "..." }] }
 * ```
 */
export interface Fixture {
  description: string;
  /** Default `plant/<plantId>/erp/<system>/lot/events`. */
  topic?: string;
  /** Default `A`. */
  plantId?: string;
  /** Default: the plugin's name. */
  system?: string;
  /** Default `UTC`. */
  timeZone?: string;
  /** Plugin options. Default `{}`. */
  options?: Record<string, unknown>;
  /** The native message as JSON... */
  native?: unknown;
  /** ...or as raw text (for invalid JSON)... */
  nativeText?: string;
  /** ...or as base64 bytes (for invalid UTF-8). */
  nativeBase64?: string;
  /** Expected canonical events, without `observedAt`. */
  expect?: Omit<CanonicalLotEvent, "observedAt">[];
  /** Expected failure: code, and optionally the stage, field and a message substring. */
  expectError?: { code: string; stage?: string; field?: string; message?: string };
}

/** Result of one fixture. */
export interface FixtureResult {
  file: string;
  description: string;
  pass: boolean;
  /** Why it failed: expected vs actual, as text. */
  problem?: string;
}

function payloadOf(f: Fixture): Uint8Array {
  if (f.nativeBase64 !== undefined) {
    return Uint8Array.from(atob(f.nativeBase64), (c) => c.charCodeAt(0));
  }
  if (f.nativeText !== undefined) return new TextEncoder().encode(f.nativeText);
  return new TextEncoder().encode(JSON.stringify(f.native));
}

/** Runs one parsed fixture against a plugin. */
export function runFixture(plugin: Plugin, fixture: Fixture, file = "(inline)"): FixtureResult {
  const result = (pass: boolean, problem?: string): FixtureResult => ({
    file,
    description: fixture.description,
    pass,
    ...(problem ? { problem } : {}),
  });
  const plantId = fixture.plantId ?? "A";
  const system = fixture.system ?? plugin.name;
  let outcome;
  try {
    const bound = bindPlugin(plugin, {
      plantId,
      system,
      timeZone: fixture.timeZone ?? "UTC",
      options: fixture.options,
    });
    outcome = decodeNative(bound, {
      topic: fixture.topic ?? `plant/${plantId}/erp/${system}/lot/events`,
      payload: payloadOf(fixture),
      observedAt: new Date(0),
    });
  } catch (error) {
    return result(false, `setup failed: ${errorMessage(error)}`);
  }
  if (fixture.expectError) {
    const want = fixture.expectError;
    if (outcome.ok) {
      return result(false, `expected error ${want.code}, got ${outcome.events.length} event(s)`);
    }
    const problems = [
      outcome.code !== want.code && `code ${outcome.code} (want ${want.code})`,
      want.stage && outcome.stage !== want.stage && `stage ${outcome.stage} (want ${want.stage})`,
      want.field && outcome.field !== want.field && `field ${outcome.field} (want ${want.field})`,
      want.message && !outcome.message.includes(want.message) &&
      `message "${outcome.message}" lacks "${want.message}"`,
    ].filter(Boolean);
    return problems.length ? result(false, problems.join("; ")) : result(true);
  }
  if (!outcome.ok) return result(false, `unexpected ${outcome.code}: ${outcome.message}`);
  const actual = outcome.events.map(({ observedAt: _, ...rest }) => rest);
  if (!isDeepStrictEqual(actual, fixture.expect ?? [])) {
    return result(
      false,
      `events differ\n  want: ${JSON.stringify(fixture.expect)}\n  got:  ${JSON.stringify(actual)}`,
    );
  }
  return result(true);
}

/** Runs every `*.json` fixture in `dir` (sorted by name) against a plugin. */
export async function runFixtureDir(plugin: Plugin, dir: string): Promise<FixtureResult[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".json")) files.push(entry.name);
  }
  files.sort();
  const results: FixtureResult[] = [];
  for (const name of files) {
    const path = `${dir}/${name}`;
    let fixture: Fixture;
    try {
      fixture = JSON.parse(await Deno.readTextFile(path));
    } catch (error) {
      results.push({
        file: path,
        description: "(unreadable)",
        pass: false,
        problem: errorMessage(error),
      });
      continue;
    }
    results.push(runFixture(plugin, fixture, path));
  }
  return results;
}
