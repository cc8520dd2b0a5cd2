import { Ajv } from "ajv";
import schema from "./canonical_event.schema.json" with { type: "json" };

/** The canonical lot event types (schemaVersion 1). */
export const LOT_EVENT_TYPES = schema.properties.eventType.enum as readonly LotEventType[];

/** What happened to a lot. */
export type LotEventType =
  | "LOT_CREATED"
  | "LOT_SPLIT"
  | "LOT_MERGED"
  | "LOT_STAGED"
  | "LOT_CONSUMED"
  | "LOT_SHIPPED"
  | "LOT_RECEIVED"
  | "LOT_ADJUSTED"
  | "LOT_REVERSED"
  /**
   * An ERP refused a command from the centre: correlationId = the command id, lotId, material,
   * quantity and uom = the command's; `payload.reason` says why. Audited, changes no lot.
   */
  | "COMMAND_REJECTED"
  /**
   * One line of an ERP's stock report answering a REPORT_LOTS command (reconciliation):
   * quantity = on hand, correlationId = the command id, `payload.line`/`payload.lines`.
   * Audited, changes no lot.
   */
  | "LOT_STOCK_REPORTED";

/**
 * Event types that answer the centre (a refused command, a stock report line) rather than
 * change a lot: audited, never applied to lot state or genealogy.
 */
export const ANSWER_EVENT_TYPES: ReadonlySet<LotEventType> = new Set([
  "COMMAND_REJECTED",
  "LOT_STOCK_REPORTED",
]);

/** A lot that went into the event's lot (split source, merge input, consumed component). */
export interface ParentLot {
  lotId: string;
  material?: string;
  quantity?: number;
  /** UN/ECE Rec 20 code. */
  uom?: string;
}

/** Where an event came from. */
export interface EventSource {
  /** The native document key, e.g. SAP `4900001234/2026/0001`. */
  documentId: string;
  /** Name of the plugin that decoded it. */
  plugin: string;
  /** Version of that plugin. */
  pluginVersion: string;
}

/**
 * The canonical lot event, schemaVersion 1. `gateway/core/canonical_event.schema.json` is the
 * single source of truth; this type mirrors it.
 *
 * @example
 * ```json
 * { "schemaVersion": 1, "eventId": "0b5e...", "eventType": "LOT_CREATED",
 *   "timestamp": "2026-03-15T09:22:03Z", "observedAt": "2026-03-15T09:22:03.412Z",
 *   "plantId": "A", "sourceSystem": "sap", "lotId": "0000012345", "material": "000000000000100200",
 *   "quantity": 1200, "uom": "KGM", "parents": [], "correlationId": "000001000123", "version": 0,
 *   "source": { "documentId": "4900001234/2026/0001", "plugin": "sap", "pluginVersion": "1.0.0" },
 *   "payload": { "BWART": "101" } }
 * ```
 */
export interface CanonicalLotEvent {
  schemaVersion: 1;
  eventId: string;
  eventType: LotEventType;
  /** Event time at the source, ISO 8601 UTC. */
  timestamp: string;
  /** Edge receipt time, ISO 8601 UTC. */
  observedAt: string;
  plantId: string;
  sourceSystem: string;
  /** The source system's lot/batch id. */
  lotId: string;
  material: string;
  quantity: number;
  /** UN/ECE Rec 20 code (KGM, LTR, H87, ...). */
  uom: string;
  parents: ParentLot[];
  correlationId?: string;
  /** LOT_SHIPPED: where the lot goes (the transfer saga's target). */
  destination?: { plantId: string; system?: string };
  /** Monotonic per source lot where the source gives an order. */
  version?: number;
  source: EventSource;
  /** Native details kept for audit. */
  payload?: Record<string, unknown>;
}

const ajv = new Ajv({ allErrors: false, strict: true });
const validate = ajv.compile(schema);

/** The outcome of {@linkcode checkCanonicalEvent}. */
export type CheckResult = { ok: true } | { ok: false; field: string; message: string };

/** Checks a value against the canonical schema; on failure names the field and what was expected. */
export function checkCanonicalEvent(value: unknown): CheckResult {
  if (validate(value)) return { ok: true };
  const error = validate.errors![0];
  const path = error.instancePath.replace(/^\//, "").replaceAll("/", ".");
  if (error.keyword === "required") {
    const field = [path, error.params.missingProperty].filter(Boolean).join(".");
    return { ok: false, field, message: `missing required field "${field}"` };
  }
  if (error.keyword === "additionalProperties") {
    const field = [path, error.params.additionalProperty].filter(Boolean).join(".");
    return { ok: false, field, message: `unknown field "${field}"` };
  }
  if (error.keyword === "enum") {
    const allowed = (error.params.allowedValues as unknown[]).join(", ");
    return { ok: false, field: path, message: `field "${path}" must be one of ${allowed}` };
  }
  return { ok: false, field: path, message: `field "${path || "(event)"}" ${error.message}` };
}
