import { isoToUtc, objectAt, optionalStringAt, PluginError, stringAt } from "../../gateway/mod.ts";
import { type Doc, msDate, numberAt, show } from "./fields.ts";
import { BUSINESS_EVENT_SUFFIXES, type DynamicsKind, type DynamicsOptions } from "./options.ts";

/**
 * The standard D365 business event envelope: which event, when, which document.
 *
 * @module
 */

/** The standard business event envelope, read and checked once per message. */
export interface Envelope {
  doc: Doc;
  kind: DynamicsKind;
  timestamp: string;
  version: number;
  documentId: string;
  /** Keys of the source document line; the lot id is appended per event. */
  keys: string[];
  audit: Record<string, unknown>;
}

/** Contract versions above this may change field meanings: refuse rather than guess. */
const MAX_MAJOR_VERSION = 1;
const GUID = /^\{?([0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})\}?$/i;

/** Native fields kept in `payload` for audit: [payload key, D365 field]; the first present wins. */
const AUDIT_FIELDS: [string, string][] = [
  ["journalNumber", "JournalNumber"],
  ["journalNumber", "InventoryJournalNumber"],
  ["journalLineNumber", "JournalLineNumber"],
  ["voucherNumber", "VoucherNumber"],
  ["reversedVoucherNumber", "ReversedVoucherNumber"],
  ["productReceiptNumber", "ProductReceiptNumber"],
  ["purchaseOrderLineNumber", "PurchaseOrderLineNumber"],
  ["vendorAccount", "VendorAccountNumber"],
  ["vendorBatchNumber", "VendorBatchNumber"],
  ["siteId", "ProductionSiteId"],
  ["siteId", "SiteId"],
  ["warehouseId", "WarehouseId"],
  ["warehouseId", "ShippingWarehouseId"],
  ["receivingWarehouseId", "ReceivingWarehouseId"],
  ["transferOrderLineNumber", "TransferOrderLineNumber"],
  ["journalDescription", "JournalDescription"],
  ["fromLocationId", "FromWarehouseLocationId"],
  ["toLocationId", "ToWarehouseLocationId"],
  ["licensePlateNumber", "LicensePlateNumber"],
  ["inventoryLotId", "InventoryLotId"],
];

function guidAt(doc: Doc, key: string): string | undefined {
  const value = optionalStringAt(doc, key);
  if (value === undefined) return undefined;
  const m = GUID.exec(value);
  if (!m) {
    throw new PluginError(`field "${key}" must be a GUID, got ${show(value)}`, { field: key });
  }
  return m[1].toUpperCase();
}

/** EventTimeIso8601 has 100 ns digits where EventTime has whole seconds: prefer it. */
function eventTime(doc: Doc): string {
  // EventTime is checked even when unused: a broken one means a broken producer.
  const fromMs = doc.EventTime == null ? undefined : msDate(doc.EventTime, "EventTime");
  if (doc.EventTimeIso8601 != null) return isoToUtc(doc.EventTimeIso8601, "EventTimeIso8601");
  if (fromMs !== undefined) return fromMs;
  throw new PluginError('fields "EventTimeIso8601" and "EventTime" are both missing', {
    field: "EventTimeIso8601",
  });
}

function kindOf(id: string, options: DynamicsOptions): DynamicsKind {
  const mapped = options.businessEvents?.[id];
  if (mapped) return mapped;
  const entries = Object.entries(BUSINESS_EVENT_SUFFIXES) as [DynamicsKind, string][];
  const found = entries.find(([, suffix]) => id.endsWith(suffix));
  if (found) return found[0];
  throw new PluginError(
    `business event "${id}" is not a lot event (class names ending in ${
      Object.values(BUSINESS_EVENT_SUFFIXES).join(", ")
    }; map others with the businessEvents option)`,
    { field: "BusinessEventId", code: "plugin_unsupported" },
  );
}

function controlNumber(doc: Doc): number {
  const value = numberAt(doc, "ControlNumber");
  if (Number.isSafeInteger(value) && value >= 0) return value;
  throw new PluginError(`field "ControlNumber" must be a non-negative integer, got ${value}`, {
    field: "ControlNumber",
  });
}

function contractVersion(doc: Doc): string | undefined {
  if (doc.MajorVersion === undefined) return undefined;
  const major = numberAt(doc, "MajorVersion");
  const minor = doc.MinorVersion === undefined ? 0 : numberAt(doc, "MinorVersion");
  if (major > MAX_MAJOR_VERSION) {
    throw new PluginError(
      `contract MajorVersion ${major} is not supported (up to ${MAX_MAJOR_VERSION}): review the new contract before mapping it`,
      { field: "MajorVersion", code: "plugin_unsupported" },
    );
  }
  return `${major}.${minor}`;
}

/**
 * The source document line: journal + line where the event has them, else the voucher, else
 * the business event instance (then only transport re-sends dedupe). See README "Event ids".
 */
function documentOf(doc: Doc, legalEntity: string, eventGuid: string) {
  const journal = optionalStringAt(doc, "JournalNumber") ??
    optionalStringAt(doc, "InventoryJournalNumber");
  if (journal) {
    const line = optionalStringAt(doc, "JournalLineNumber");
    const parts = line ? [journal, line] : [journal];
    return { keys: ["journal", ...parts], documentId: [legalEntity, ...parts].join("/") };
  }
  const voucher = optionalStringAt(doc, "VoucherNumber");
  if (voucher) return { keys: ["voucher", voucher], documentId: `${legalEntity}/${voucher}` };
  return { keys: ["event", eventGuid], documentId: `${legalEntity}/${eventGuid}` };
}

/** Reads and checks the envelope of one business event (the first thing decode does). */
export function readEnvelope(body: unknown, options: DynamicsOptions): Envelope {
  const doc = objectAt(body, "(event)");
  const businessEventId = stringAt(doc, "BusinessEventId");
  const kind = kindOf(businessEventId, options);
  const version = contractVersion(doc);
  const legalEntity = stringAt(doc, "BusinessEventLegalEntity");
  const eventGuid = guidAt(doc, "EventId");
  if (eventGuid === undefined) {
    throw new PluginError('field "EventId" is missing', { field: "EventId" });
  }
  const control = controlNumber(doc);
  const timestamp = eventTime(doc);
  const document = documentOf(doc, legalEntity, eventGuid);
  const audit: Record<string, unknown> = {
    businessEventId,
    legalEntity,
    d365EventId: eventGuid,
    controlNumber: control,
    contractVersion: version,
    initiatingUser: guidAt(doc, "InitiatingUserAADObjectId"),
  };
  for (const [key, field] of AUDIT_FIELDS) audit[key] ??= optionalStringAt(doc, field);
  return {
    doc,
    kind,
    timestamp,
    version: control,
    documentId: document.documentId,
    // DataAreaId is case-insensitive in D365; tenants print it either way.
    keys: [legalEntity.toLowerCase(), kind, ...document.keys],
    audit,
  };
}
