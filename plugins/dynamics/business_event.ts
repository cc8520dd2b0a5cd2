/**
 * Writing D365 business events as the simulator raises them: the standard envelope (keys in
 * DataContract order, a GUID that only depends on the document) around contract fields.
 *
 * @module
 */
import type { SimulationContext } from "../../gateway/mod.ts";
import { BUSINESS_EVENT_SUFFIXES, type DynamicsKind } from "./options.ts";
import { d365UnitSymbol } from "./unit_symbols.ts";

type Doc = Record<string, unknown>;

/** Custom business events carry the customer's prefix; the plugin matches on the suffix. */
const CUSTOMER_PREFIX = "Contoso";
/** ControlNumbers look like RecIds: large, increasing, with gaps. */
const CONTROL_BASE = 5_637_144_576;
const INITIATING_USER = "{7A1E43D0-25B9-4C8F-A0D2-6B3F1E98C27A}";

/** Document numbers are zero-padded to 6 digits (`PJ-000012`). */
export function pad(n: number): string {
  return String(n).padStart(6, "0");
}

/** The simulated D365's legal entity (dataAreaId) for a plant. */
export function legalEntity(ctx: SimulationContext): string {
  return `${ctx.plantId}01`.slice(0, 4).toLowerCase();
}

/** An upper-case GUID that only depends on `seed`, so a re-render is a byte-equal re-send. */
function guid(seed: string): string {
  let hex = "";
  for (let round = 0; round < 4; round++) {
    let h = 0x811c9dc5;
    for (const ch of `${round}|${seed}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
    hex += (h >>> 0).toString(16).padStart(8, "0");
  }
  const variant = ((parseInt(hex[16], 16) & 3) | 8).toString(16);
  const v = `${hex.slice(0, 12)}4${hex.slice(13, 16)}${variant}${hex.slice(17)}`;
  return `${v.slice(0, 8)}-${v.slice(8, 12)}-${v.slice(12, 16)}-${v.slice(16, 20)}-${v.slice(20)}`
    .toUpperCase();
}

/** D365 writes 7 fractional digits (100 ns ticks). */
function iso7(at: Date): string {
  return `${at.toISOString().slice(0, -1)}0000Z`;
}

/** A contract date: the plant-local business date at midnight UTC, as `/Date(ms)/`. */
export function dateField(at: Date, timeZone: string): string {
  const [y, m, d] = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(at).split("-").map(Number);
  return `/Date(${Date.UTC(y, m - 1, d)})/`;
}

/** What a business event is raised for: an operation, or the answer to a command. */
interface Raised {
  kind: string;
  docNo: number;
  at: Date;
  material: string;
  uom: string;
}

/** The standard envelope around contract fields, keys in DataContract (ordinal) order. */
export function businessEvent(op: Raised, ctx: SimulationContext, kind: DynamicsKind, fields: Doc) {
  const doc: Doc = {
    BusinessEventId: `${CUSTOMER_PREFIX}${BUSINESS_EVENT_SUFFIXES[kind]}`,
    BusinessEventLegalEntity: legalEntity(ctx),
    ContextRecordSubject: "",
    ControlNumber: CONTROL_BASE + op.docNo,
    EventId: guid(`${ctx.plantId}|${ctx.system}|${op.kind}|${op.docNo}`),
    EventTime: `/Date(${op.at.getTime()})/`,
    EventTimeIso8601: iso7(op.at),
    InitiatingUserAADObjectId: INITIATING_USER,
    ItemNumber: op.material,
    MajorVersion: 1,
    MinorVersion: 0,
    ParentContextRecordSubjects: [],
    UnitSymbol: d365UnitSymbol(op.uom),
    ...fields,
  };
  return Object.fromEntries(Object.entries(doc).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
