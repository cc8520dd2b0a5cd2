import {
  listAt,
  type LotEventDraft,
  type PluginContext,
  PluginError,
  stringAt,
} from "../../gateway/mod.ts";
import { type Envelope, readEnvelope } from "./envelope.ts";
import {
  batchAt,
  businessDate,
  defined,
  type Doc,
  numberAt,
  positiveAt,
  unitAt,
} from "./fields.ts";
import { decodeJournal, decodeJournalFailure } from "./journal.ts";
import type { DynamicsKind, DynamicsOptions } from "./options.ts";
import { decodeStockReport, isStockReport } from "./stock_report.ts";

/**
 * D365 business events -> canonical lot events: what each kind of event means for lots.
 *
 * @module
 */

type Context = PluginContext<DynamicsOptions>;

/** Contract fields of the one-lot events: which D365 fields carry quantity, order and date. */
interface SimpleSpec {
  eventType: "LOT_CREATED" | "LOT_RECEIVED" | "LOT_CONSUMED" | "LOT_STAGED" | "LOT_SHIPPED";
  quantity: string;
  correlation: string;
  date: string;
}

const SIMPLE: Partial<Record<DynamicsKind, SimpleSpec>> = {
  "report-as-finished": {
    eventType: "LOT_CREATED",
    quantity: "ReportedGoodInventoryQuantity",
    correlation: "ProductionOrderNumber",
    date: "ReportAsFinishedDate",
  },
  "product-receipt": {
    eventType: "LOT_RECEIVED",
    quantity: "ReceivedInventoryQuantity",
    correlation: "PurchaseOrderNumber",
    date: "ProductReceiptDate",
  },
  "picking-list": {
    eventType: "LOT_CONSUMED",
    quantity: "ConsumptionInventoryQuantity",
    correlation: "ProductionOrderNumber",
    date: "ConsumptionDate",
  },
  "staging": {
    eventType: "LOT_STAGED",
    quantity: "InventoryQuantity",
    correlation: "ProductionOrderNumber",
    date: "TransactionDate",
  },
  "transfer-shipment": {
    eventType: "LOT_SHIPPED",
    quantity: "ShippedQuantity",
    correlation: "TransferOrderNumber",
    date: "ShipDate",
  },
};

/**
 * Where a transfer order shipment goes: its receiving warehouse, mapped to a plantgate plant by
 * the plantIds option (default: the warehouse id is the plant id). D365 compares ids without
 * case, and so does the lookup.
 */
function destinationOf(doc: Doc, ctx: Context): { plantId: string } {
  const warehouse = stringAt(doc, "ReceivingWarehouseId");
  const key = warehouse.toLowerCase();
  const mapped = Object.entries(ctx.options.plantIds ?? {}).find(([id]) =>
    id.toLowerCase() === key
  );
  const plantId = mapped?.[1] ?? warehouse;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(plantId)) {
    throw new PluginError(
      `field "ReceivingWarehouseId" is warehouse "${warehouse}", which is not a plantgate plant id: map it with the plantIds option`,
      { field: "ReceivingWarehouseId" },
    );
  }
  return { plantId };
}

function unitOf(doc: Doc, field: string, ctx: Context): { unit: string; uom: string } {
  return unitAt(doc, field, ctx.options.unitAliases);
}

/**
 * Picking lists state the inventory quantity; events that only carry the BOM unit state the
 * quantity in it (ConsumptionBOMQuantity when given).
 */
function quantityFields(doc: Doc, spec: SimpleSpec): { quantity: string; unit: string } {
  if (spec.eventType === "LOT_CONSUMED" && doc.UnitSymbol === undefined && "BOMUnitSymbol" in doc) {
    const quantity = "ConsumptionBOMQuantity" in doc ? "ConsumptionBOMQuantity" : spec.quantity;
    return { quantity, unit: "BOMUnitSymbol" };
  }
  return { quantity: spec.quantity, unit: "UnitSymbol" };
}

/** Report as finished, product receipt, picking list, staging: one lot; negative = reversal. */
function decodeSimple(env: Envelope, spec: SimpleSpec, ctx: Context): LotEventDraft[] {
  const { doc } = env;
  const lotId = batchAt(doc, "ItemBatchNumber");
  const material = stringAt(doc, "ItemNumber");
  const correlationId = stringAt(doc, spec.correlation);
  const fields = quantityFields(doc, spec);
  const signed = numberAt(doc, fields.quantity);
  const { unit, uom } = unitOf(doc, fields.unit, ctx);
  const postingDate = businessDate(doc, spec.date);
  const shipped = spec.eventType === "LOT_SHIPPED" ? destinationOf(doc, ctx) : undefined;
  // Nothing happened to the lot (e.g. only scrap reported, or a line closed without quantity).
  if (signed === 0) return [];
  const reversal = signed < 0;
  return [{
    eventId: ctx.eventId(...env.keys, lotId),
    eventType: reversal ? "LOT_REVERSED" : spec.eventType,
    timestamp: env.timestamp,
    lotId,
    material,
    quantity: Math.abs(signed),
    uom,
    parents: [],
    correlationId,
    ...(shipped && !reversal ? { destination: shipped } : {}),
    version: env.version,
    source: { documentId: env.documentId },
    payload: defined({
      ...env.audit,
      postingDate,
      d365Unit: unit,
      reverses: reversal ? spec.eventType : undefined,
    }),
  }];
}

function batchList(doc: Doc, key: string): { record: Doc; path: string }[] {
  const value = doc[key];
  const list = listAt(value, key);
  if (list.length === 0) {
    throw new PluginError(`field "${key}" must list at least one batch`, { field: key });
  }
  return list.map((record, i) => ({ record, path: Array.isArray(value) ? `${key}[${i}]` : key }));
}

/** Batch merge: one LOT_MERGED for the merged batch, the full source batches as parents. */
function decodeMerge(env: Envelope, ctx: Context): LotEventDraft[] {
  const { doc } = env;
  const lotId = batchAt(doc, "MergedBatchNumber");
  const material = stringAt(doc, "ItemNumber");
  const quantity = positiveAt(doc, "MergedQuantity");
  const { unit, uom } = unitOf(doc, "UnitSymbol", ctx);
  const parents = batchList(doc, "SourceBatches").map(({ record, path }) => ({
    lotId: batchAt(record, "BatchNumber", path),
    quantity: positiveAt(record, "Quantity", path),
    uom,
  }));
  const sum = parents.reduce((total, p) => total + p.quantity, 0);
  if (Math.abs(sum - quantity) > 1e-9 * Math.max(1, quantity)) {
    throw new PluginError(
      `field "MergedQuantity" is ${quantity} but the source batches add up to ${sum} (a batch merge takes each source batch in full)`,
      { field: "MergedQuantity" },
    );
  }
  const postingDate = businessDate(doc, "TransactionDate");
  return [{
    eventId: ctx.eventId(...env.keys, lotId),
    eventType: "LOT_MERGED",
    timestamp: env.timestamp,
    lotId,
    material,
    quantity,
    uom,
    parents,
    version: env.version,
    source: { documentId: env.documentId },
    payload: defined({ ...env.audit, postingDate, d365Unit: unit }),
  }];
}

/** Batch split: one LOT_SPLIT per target batch, each with the source batch as parent. */
function decodeSplit(env: Envelope, ctx: Context): LotEventDraft[] {
  const { doc } = env;
  const parent = batchAt(doc, "SourceBatchNumber");
  const material = stringAt(doc, "ItemNumber");
  const { unit, uom } = unitOf(doc, "UnitSymbol", ctx);
  const postingDate = businessDate(doc, "TransactionDate");
  const seen = new Set<string>([parent]);
  return batchList(doc, "TargetBatches").map(({ record, path }) => {
    const lotId = batchAt(record, "BatchNumber", path);
    if (seen.has(lotId)) {
      throw new PluginError(
        `field "${path}.BatchNumber" repeats batch "${lotId}" (targets must be new batches)`,
        { field: `${path}.BatchNumber` },
      );
    }
    seen.add(lotId);
    const quantity = positiveAt(record, "Quantity", path);
    return {
      eventId: ctx.eventId(...env.keys, lotId),
      eventType: "LOT_SPLIT" as const,
      timestamp: env.timestamp,
      lotId,
      material,
      quantity,
      uom,
      parents: [{ lotId: parent, quantity, uom }],
      version: env.version,
      source: { documentId: env.documentId },
      payload: defined({ ...env.audit, postingDate, d365Unit: unit }),
    };
  });
}

/**
 * D365 F&O business event (standard envelope + the inventory/production contract fields in
 * README.md) -> canonical lot events; the on-hand query's response (a stock report) ->
 * LOT_STOCK_REPORTED. Throws a PluginError naming the field it cannot use.
 */
export function decodeDynamics(body: unknown, ctx: Context): LotEventDraft[] {
  if (isStockReport(body)) return decodeStockReport(body, ctx);
  const env = readEnvelope(body, ctx.options);
  const simple = SIMPLE[env.kind];
  if (simple) return decodeSimple(env, simple, ctx);
  switch (env.kind) {
    case "batch-merge":
      return decodeMerge(env, ctx);
    case "adjustment-journal":
      return decodeJournal(env, ctx);
    case "adjustment-journal-failed":
      return decodeJournalFailure(env, ctx);
    default:
      return decodeSplit(env, ctx);
  }
}
