import { Ajv } from "ajv";
import type { CanonicalLotEvent } from "./canonical_event.ts";
import { checkCanonicalEvent } from "./canonical_event.ts";
import { type ErrorCode, errorMessage, PlantgateError, PluginError, type Stage } from "./errors.ts";
import { type Logger, silentLogger } from "./logger.ts";
import type { Plugin, PluginContext } from "./plugin.ts";
import { uuidV5 } from "./uuid.ts";

/** A plugin bound to one source: its validated options and context. */
export interface BoundPlugin {
  plugin: Plugin;
  ctx: PluginContext;
}

/** Where a plugin runs. */
export interface BindOptions {
  plantId: string;
  system: string;
  timeZone: string;
  /** Raw options from the config (validated here). Default `{}`. */
  options?: Record<string, unknown>;
  /** Default: silent. */
  log?: Logger;
  /** Names the options in errors, e.g. `edge.yaml: sources[0].options`. Default `options`. */
  optionsLabel?: string;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });

/** Validates a plugin's options and builds its context. Throws `config_invalid` naming the option. */
export function bindPlugin(plugin: Plugin, bind: BindOptions): BoundPlugin {
  const options = structuredClone(bind.options ?? {});
  if (plugin.optionsSchema) {
    const validate = ajv.compile(plugin.optionsSchema);
    if (!validate(options)) {
      const problems = validate.errors!.map((e) => {
        const at = e.instancePath.replace(/^\//, "").replaceAll("/", ".");
        const extra = e.keyword === "additionalProperties"
          ? ` "${e.params.additionalProperty}" (unknown option)`
          : "";
        return `${bind.optionsLabel ?? "options"}${at ? "." + at : ""}: ${e.message}${extra}`;
      });
      throw new PlantgateError(
        "config_invalid",
        `Invalid options for plugin "${plugin.name}": ${problems.join("; ")}`,
      );
    }
  }
  const scope = `${plugin.name}|${bind.plantId}|${bind.system}`;
  const ctx: PluginContext = {
    plantId: bind.plantId,
    system: bind.system,
    timeZone: bind.timeZone,
    options,
    log: (bind.log ?? silentLogger).child({ plugin: plugin.name }),
    eventId: (...keys) => uuidV5(`${scope}|${keys.join("|")}`),
  };
  return { plugin, ctx };
}

/** Outcome of {@linkcode decodeNative}. */
export type DecodeOutcome =
  | { ok: true; events: CanonicalLotEvent[] }
  | { ok: false; stage: Stage; code: ErrorCode; message: string; field?: string };

/** Limits of {@linkcode decodeNative}. */
export interface DecodeLimits {
  /** Larger payloads become `payload_too_large` dead letters. Default 1 MiB. */
  maxPayloadBytes?: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The whole decode path of one native message: size check, UTF-8, JSON, plugin decode, runtime
 * fields, canonical schema. Never throws: every failure comes back with its stage and code.
 */
export function decodeNative(
  bound: BoundPlugin,
  message: { topic: string; payload: Uint8Array; observedAt: Date },
  limits: DecodeLimits = {},
): DecodeOutcome {
  const max = limits.maxPayloadBytes ?? 1024 * 1024;
  if (message.payload.byteLength > max) {
    return fail(
      "ingest",
      "payload_too_large",
      `payload is ${message.payload.byteLength} bytes, over the limit of ${max} (ingest.maxPayloadBytes)`,
    );
  }
  let text: string;
  try {
    text = utf8.decode(message.payload);
  } catch {
    return fail("decode", "invalid_utf8", "payload is not valid UTF-8");
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return fail("decode", "invalid_json", `payload is not JSON: ${errorMessage(error)}`);
  }
  const { plugin, ctx } = bound;
  let drafts;
  try {
    drafts = plugin.decode({ topic: message.topic, body, text }, ctx);
  } catch (error) {
    if (error instanceof PluginError) {
      return fail("decode", error.code, error.message, error.field);
    }
    return fail(
      "decode",
      "plugin_crashed",
      `plugin "${plugin.name}" crashed: ${errorMessage(error)}`,
    );
  }
  const observedAt = message.observedAt.toISOString();
  const events: CanonicalLotEvent[] = [];
  for (const draft of drafts) {
    const event = {
      schemaVersion: 1 as const,
      ...draft,
      observedAt,
      plantId: ctx.plantId,
      sourceSystem: ctx.system,
      source: { ...draft.source, plugin: plugin.name, pluginVersion: plugin.version },
    };
    const check = checkCanonicalEvent(event);
    if (!check.ok) {
      return fail(
        "validate",
        "event_invalid",
        `plugin "${plugin.name}" produced an invalid event: ${check.message}`,
        check.field,
      );
    }
    events.push(event);
  }
  return { ok: true, events };
}

function fail(stage: Stage, code: ErrorCode, message: string, field?: string): DecodeOutcome {
  return field === undefined
    ? { ok: false, stage, code, message }
    : { ok: false, stage, code, message, field };
}
