/**
 * The parts every lot-bearing noun shares: a line's item, lot, quantity and references, a
 * header's document id and status, and the shapes the noun readers return.
 *
 * @module
 */
import { type LotEventDraft, type ParentLot, PluginError } from "../../gateway/mod.ts";
import { defined, elements, quantityOf, requiredTextAt, textAt, textOf, walk } from "./bod.ts";
import type { InforOptions } from "./options.ts";

/** `DocumentReference/@type` values that mean a production order. */
const ORDER_TYPES = new Set(["ProductionOrder", "ManufacturingOrder", "WorkOrder", "Job"]);

/** One lot-carrying line of a noun. */
export interface Line {
  index: number;
  path: string;
  lineNumber: string;
  material: string;
  lot: string;
  /** Signed, as sent (issues are negative). */
  quantity: number;
  uom: string;
  /** The line's first `DocumentReference` that is not a production order (an adjustment's cause). */
  reference?: string;
  audit: Record<string, unknown>;
}

/** An event before the actionCode is applied. */
export interface Mapped {
  eventType: LotEventDraft["eventType"];
  /** The line the event is keyed on (id, document id, lot, material, unit). */
  line: Line;
  quantity: number;
  parents: ParentLot[];
  correlationId?: string;
  /** LOT_SHIPPED: the plantgate plant the lot goes to. */
  destination?: { plantId: string };
  audit: Record<string, unknown>;
}

/** What a noun instance maps to. */
export interface NounResult {
  documentId: string;
  cancelled: boolean;
  mapped: Mapped[];
  audit: Record<string, unknown>;
}

/** Reads one noun instance (`path` names it in errors). */
export type NounReader = (
  noun: Record<string, unknown>,
  path: string,
  options: InforOptions,
) => NounResult;

/** A one-lot event of a line. */
export function simple(
  eventType: Mapped["eventType"],
  line: Line,
  quantity: number,
  correlationId?: string,
  audit: Record<string, unknown> = {},
): Mapped {
  return {
    eventType,
    line,
    quantity,
    parents: [],
    ...(correlationId ? { correlationId } : {}),
    audit,
  };
}

/** `ItemInstance/Lot/LotIDs/ID` (or `Lot/LotIDs/ID`); LotIDs may repeat, the first is the lot. */
function lotIdsOf(node: Record<string, unknown>, path: string): string[] {
  const under = node.ItemInstance !== undefined ? ["ItemInstance", "Lot"] : ["Lot"];
  const found = walk(node, path, [...under, "LotIDs"]);
  if (found.value === undefined || found.value === null) return [];
  const list = Array.isArray(found.value) ? found.value : [found.value];
  return list.flatMap((ids, i) => {
    const at = Array.isArray(found.value) ? `${found.path}[${i}]` : found.path;
    const id = textAt(ids, at, ["ID"]);
    return id === undefined ? [] : [id];
  });
}

/** One line of a noun: item, lot, quantity (`quantityKey`) and unit, checked; its audit fields. */
export function readLine(
  node: Record<string, unknown>,
  path: string,
  index: number,
  quantityKey: string,
  options: InforOptions,
): Line {
  const lineNumber = textOf(node.LineNumber, `${path}.LineNumber`) ?? String(index + 1);
  const material = requiredTextAt(node, path, ["Item", "ItemID", "ID"]);
  const lotIds = lotIdsOf(node, path);
  const lot = lotIds[0];
  if (lot === undefined) {
    const field = `${path}.ItemInstance.Lot.LotIDs.ID`;
    throw new PluginError(`field "${field}" is missing: every line must name its lot`, { field });
  }
  const { quantity, uom, unitCode } = quantityOf(
    node,
    quantityKey,
    path,
    options.unitAliases ?? {},
  );
  const reference = referenceOf(node, path);
  return {
    index,
    path,
    lineNumber,
    material,
    lot,
    quantity,
    uom,
    ...(reference ? { reference } : {}),
    audit: defined({
      lineNumber,
      warehouse: textAt(node, path, ["WarehouseLocation", "ID"]),
      reasonCode: textAt(node, path, ["ReasonCode"]),
      nativeQuantity: quantity,
      unitCode,
      otherLotIds: lotIds.length > 1 ? lotIds.slice(1) : undefined,
    }),
  };
}

/** The first `DocumentReference` whose `@type` is not a production order, if any. */
function referenceOf(record: Record<string, unknown>, path: string): string | undefined {
  if (record.DocumentReference === undefined || record.DocumentReference === null) return;
  for (const { node, path: at } of elements(record, "DocumentReference", path)) {
    const type = textOf(node["@type"], `${at}.@type`);
    if (!type || !ORDER_TYPES.has(type)) return textAt(node, at, ["DocumentID", "ID"]);
  }
}

/** A production-order reference: `ProductionOrderReference`, or a typed `DocumentReference`. */
export function orderOf(
  record: Record<string, unknown>,
  path: string,
): { id: string; type: string } | undefined {
  const direct = textAt(record, path, ["ProductionOrderReference", "DocumentID", "ID"]);
  if (direct) return { id: direct, type: "ProductionOrder" };
  if (record.DocumentReference === undefined || record.DocumentReference === null) return;
  for (const { node, path: at } of elements(record, "DocumentReference", path)) {
    const type = textOf(node["@type"], `${at}.@type`);
    if (type && ORDER_TYPES.has(type)) {
      return { id: requiredTextAt(node, at, ["DocumentID", "ID"]), type };
    }
  }
}

/** A noun's header: document id, cancellation status and audit fields. */
export function readHeader(noun: Record<string, unknown>, path: string, key: string) {
  const headerPath = `${path}.${key}`;
  const header = elements(noun, key, path)[0].node;
  const documentId = requiredTextAt(header, headerPath, ["DocumentID", "ID"]);
  const status = textAt(header, headerPath, ["Status", "Code"]);
  return {
    header,
    headerPath,
    documentId,
    cancelled: status !== undefined && /^cancel/i.test(status),
    audit: defined({
      documentId,
      documentDateTime: textAt(header, headerPath, ["DocumentDateTime"]),
      status,
      reasonCode: textAt(header, headerPath, ["ReasonCode"]),
    }),
  };
}
