import type { CanonicalLotEvent } from "./canonical_event.ts";
import type { Logger } from "./logger.ts";
import type { ErpSimulator } from "./simulation.ts";

/** A native message as the runtime hands it to `decode`: already UTF-8 and JSON decoded. */
export interface NativeMessage {
  /** MQTT topic it arrived on. */
  topic: string;
  /** The parsed JSON body. */
  body: unknown;
  /** The body as text (for plugins that keep it or need exact numbers). */
  text: string;
}

/**
 * What a plugin returns per canonical event: the canonical event without the fields the runtime
 * fills in (`schemaVersion`, `observedAt`, `plantId`, `sourceSystem`, `source.plugin`,
 * `source.pluginVersion`).
 */
export type LotEventDraft =
  & Omit<
    CanonicalLotEvent,
    "schemaVersion" | "observedAt" | "plantId" | "sourceSystem" | "source"
  >
  & { source: { documentId: string } };

/** Context every plugin call gets. */
export interface PluginContext<Options = Record<string, unknown>> {
  /** The plant this edge serves. */
  readonly plantId: string;
  /** The source system name (the `<system>` segment of the topic). */
  readonly system: string;
  /** The plant's IANA time zone, for ERP-local times. */
  readonly timeZone: string;
  /** The plugin's options from the config, validated by its `optionsSchema`, defaults applied. */
  readonly options: Options;
  /** Logger scoped to this plugin. */
  readonly log: Logger;
  /**
   * The deterministic event id (UUIDv5) for a source document's keys: the same keys always
   * give the same id, so an ERP re-send gets the id of the first send. Scoped by plugin, plant
   * and system.
   */
  eventId(...keys: (string | number)[]): string;
}

/** A command for a plant ERP (downlink). */
export interface LotCommand {
  commandId: string;
  /**
   * REPORT_LOTS asks the ERP for its current lots (reconciliation): lotId and material are "*"
   * (all) or one lot/material, quantity 0; the ERP answers with a stock report that decodes to
   * LOT_STOCK_REPORTED events with correlationId = the command id.
   */
  commandType: "CREATE_LOT" | "RECEIVE_LOT" | "ADJUST_LOT" | "REPORT_LOTS";
  plantId: string;
  targetSystem: string;
  lotId: string;
  material: string;
  quantity: number;
  uom: string;
  correlationId?: string;
  /** ISO 8601 UTC. */
  issuedAt: string;
  payload?: Record<string, unknown>;
}

/** The native message a plugin makes of a command. */
export interface EncodedCommand {
  /** JSON value published as the message body. */
  body: unknown;
}

/** A plugin: turns one ERP's native messages into canonical events and commands back. */
export interface Plugin<Options = Record<string, unknown>> {
  /** Unique name, referenced by `sources[].plugin` in the config. */
  name: string;
  /** Semantic version; recorded in every event's `source.pluginVersion`. */
  version: string;
  /** One line for `plugin list` and docs. */
  description: string;
  /** JSON Schema of the plugin's options (validated at start-up; `default`s applied). */
  optionsSchema?: Record<string, unknown>;
  /**
   * Native message -> canonical events. Return `[]` to ignore a message deliberately (it is
   * counted). Throw a `PluginError` for a message that cannot be decoded; never ack, retry or
   * dead-letter: the runtime does that.
   */
  decode(message: NativeMessage, ctx: PluginContext<Options>): LotEventDraft[];
  /** Canonical command -> native message, for the downlink. */
  encode?(command: LotCommand, ctx: PluginContext<Options>): EncodedCommand;
  /** Renders simulated operations in this ERP's native format (`main.ts simulate`). */
  simulator?: ErpSimulator;
}

/**
 * Declares a plugin. An identity function: it only ties the types together.
 *
 * @example
 * ```ts
 * import { definePlugin } from "../../gateway/mod.ts";
 * export default definePlugin({
 *   name: "acme", version: "1.0.0", description: "ACME MES lot feed",
 *   decode(message, ctx) { return []; },
 * });
 * ```
 */
export function definePlugin<Options = Record<string, unknown>>(plugin: Plugin<Options>): Plugin {
  // The runtime validates the options against optionsSchema before any call, so the plugin
  // sees exactly its Options type; callers only need the erased Plugin.
  return plugin as unknown as Plugin;
}
