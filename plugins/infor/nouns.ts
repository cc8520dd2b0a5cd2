import { type LotEventDraft, type ParentLot, PluginError } from "../../gateway/mod.ts";
import { defined, elements, quantityOf, requiredTextAt, textAt, textOf, walk } from "./bod.ts";
import type { InforOptions } from "./options.ts";

/**
 * The lot-bearing nouns: how the lines of an InventoryAdjustment, ReceiveDelivery or MoveInventory
 * become lot events (before the BOD's actionCode is applied).
 *
 * @module
 */

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

function simple(
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

function readLine(
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
  return {
    index,
    path,
    lineNumber,
    material,
    lot,
    quantity,
    uom,
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

/** A production-order reference: `ProductionOrderReference`, or a typed `DocumentReference`. */
function orderOf(
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

function readHeader(noun: Record<string, unknown>, path: string, key: string) {
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

/** Lines without a production order: 1 issue + n receipts = split, n issues + 1 receipt = merge. */
function transfers(lines: Line[], path: string): Mapped[] {
  const issues = lines.filter((l) => l.quantity < 0);
  const receipts = lines.filter((l) => l.quantity > 0);
  if (issues.length === 0 || receipts.length === 0) {
    return lines.map((l) => simple("LOT_ADJUSTED", l, l.quantity));
  }
  if (issues.length === 1) {
    const parent = issues[0];
    // A receipt of the parent lot itself is the remainder moving, not a new lot.
    return receipts.filter((r) => r.lot !== parent.lot).map((r) => ({
      ...simple("LOT_SPLIT", r, r.quantity, undefined, { parentLine: parent.lineNumber }),
      parents: [{ lotId: parent.lot, material: parent.material, quantity: r.quantity, uom: r.uom }],
    }));
  }
  if (receipts.length === 1) {
    const target = receipts[0];
    const inputs = issues.filter((i) => i.lot !== target.lot);
    if (inputs.length === 0) return [];
    return [{
      ...simple("LOT_MERGED", target, target.quantity, undefined, {
        sourceLines: inputs.map((i) => i.lineNumber),
      }),
      parents: inputs.map((i) => ({
        lotId: i.lot,
        material: i.material,
        quantity: -i.quantity,
        uom: i.uom,
      })),
    }];
  }
  throw new PluginError(
    `${issues.length} issue lines and ${receipts.length} receipt lines without a production order in one adjustment: only 1 -> n (split) and n -> 1 (merge) are mapped`,
    { field: path, code: "plugin_unsupported" },
  );
}

/** InventoryAdjustment: issues/receipts against a production order, or lot splits and merges. */
function inventoryAdjustment(
  noun: Record<string, unknown>,
  path: string,
  options: InforOptions,
): NounResult {
  const head = readHeader(noun, path, "InventoryAdjustmentHeader");
  const headerOrder = orderOf(head.header, head.headerPath);
  const mapped: Mapped[] = [];
  const free: Line[] = [];
  for (const [i, e] of elements(noun, "InventoryAdjustmentLine", path).entries()) {
    const line = readLine(e.node, e.path, i, "Quantity", options);
    const order = orderOf(e.node, e.path) ?? headerOrder;
    if (line.quantity === 0) continue;
    if (!order) {
      free.push(line);
      continue;
    }
    const audit = { productionOrder: order.id, orderType: order.type };
    const type = line.quantity < 0 ? "LOT_CONSUMED" : "LOT_CREATED";
    mapped.push(simple(type, line, Math.abs(line.quantity), order.id, audit));
  }
  mapped.push(...transfers(free, `${path}.InventoryAdjustmentLine`));
  mapped.sort((a, b) => a.line.index - b.line.index);
  return { documentId: head.documentId, cancelled: head.cancelled, mapped, audit: head.audit };
}

/** ReceiveDelivery: each received item is a purchased lot arriving. */
function receiveDelivery(
  noun: Record<string, unknown>,
  path: string,
  options: InforOptions,
): NounResult {
  const head = readHeader(noun, path, "ReceiveDeliveryHeader");
  const headerPo = textAt(head.header, head.headerPath, [
    "PurchaseOrderReference",
    "DocumentID",
    "ID",
  ]);
  const supplier = textAt(head.header, head.headerPath, ["SupplierParty", "PartyIDs", "ID"]);
  const mapped = elements(noun, "ReceiveDeliveryItem", path).map((e, i) => {
    const line = readLine(e.node, e.path, i, "ReceivedQuantity", options);
    if (line.quantity <= 0) {
      const field = `${e.path}.ReceivedQuantity`;
      throw new PluginError(
        `field "${field}" is ${line.quantity}: returns and zero receipts are not mapped`,
        { field, code: "plugin_unsupported" },
      );
    }
    const po = textAt(e.node, e.path, ["PurchaseOrderReference", "DocumentID", "ID"]) ?? headerPo;
    return simple(
      "LOT_RECEIVED",
      line,
      line.quantity,
      po,
      defined({
        purchaseOrder: po,
        purchaseOrderLine: textAt(e.node, e.path, ["PurchaseOrderReference", "LineNumber"]),
        supplier,
      }),
    );
  });
  return { documentId: head.documentId, cancelled: head.cancelled, mapped, audit: head.audit };
}

/** MoveInventory: a move for a production order or into a staging location stages the lot. */
function moveInventory(
  noun: Record<string, unknown>,
  path: string,
  options: InforOptions,
): NounResult {
  const head = readHeader(noun, path, "MoveInventoryHeader");
  const headerOrder = orderOf(head.header, head.headerPath);
  const staging = new Set(options.stagingLocations ?? []);
  const mapped: Mapped[] = [];
  for (const [i, e] of elements(noun, "MoveInventoryLine", path).entries()) {
    const line = readLine(e.node, e.path, i, "Quantity", options);
    const order = orderOf(e.node, e.path) ?? headerOrder;
    const from = textAt(e.node, e.path, ["FromLocation", "ID"]);
    const to = textAt(e.node, e.path, ["ToLocation", "ID"]);
    // Other moves keep the lot as it is: nothing to report.
    if (!order && !(to && staging.has(to))) continue;
    const audit = defined({
      fromLocation: from,
      toLocation: to,
      productionOrder: order?.id,
      orderType: order?.type,
    });
    mapped.push(simple("LOT_STAGED", line, Math.abs(line.quantity), order?.id, audit));
  }
  return { documentId: head.documentId, cancelled: head.cancelled, mapped, audit: head.audit };
}

/** ProductionOrder BODs carry order status, not lot movements (output comes as adjustments). */
function productionOrder(): NounResult {
  return { documentId: "", cancelled: false, mapped: [], audit: {} };
}

/** The mapped nouns by name; any other noun is `plugin_unsupported`. */
export const NOUNS: Record<string, NounReader> = {
  InventoryAdjustment: inventoryAdjustment,
  ReceiveDelivery: receiveDelivery,
  MoveInventory: moveInventory,
  ProductionOrder: productionOrder,
};
