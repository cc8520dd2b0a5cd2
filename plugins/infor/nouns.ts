/**
 * The lot-bearing nouns: how the lines of an InventoryAdjustment, ReceiveDelivery, MoveInventory
 * or Shipment become lot events (before the BOD's actionCode is applied).
 *
 * @module
 */
import { PluginError } from "../../gateway/mod.ts";
import { defined, elements, textAt, walk } from "./bod.ts";
import {
  type Line,
  type Mapped,
  type NounReader,
  type NounResult,
  orderOf,
  readHeader,
  readLine,
  simple,
} from "./noun_lines.ts";
import type { InforOptions } from "./options.ts";

export type { Mapped, NounResult } from "./noun_lines.ts";

/** Lines without a production order: 1 issue + n receipts = split, n issues + 1 receipt = merge. */
function transfers(lines: Line[], path: string): Mapped[] {
  const issues = lines.filter((l) => l.quantity < 0);
  const receipts = lines.filter((l) => l.quantity > 0);
  if (issues.length === 0 || receipts.length === 0) {
    return lines.map((l) => simple("LOT_ADJUSTED", l, l.quantity, l.reference));
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

/** A plantgate plant id for an Infor location: the plantIds option, else the id itself. */
function destinationOf(location: string, options: InforOptions, field: string) {
  const plantId = options.plantIds?.[location] ?? location;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(plantId)) {
    throw new PluginError(
      `field "${field}" is location "${location}", which is not a plantgate plant id: map it with the plantIds option`,
      { field },
    );
  }
  return { plantId };
}

/**
 * Shipment: each shipped lot leaves for the ship-to location (`ShipToParty/Location/ID`, else
 * `ShipToParty/PartyIDs/ID`); the shipment's DocumentID is its reference.
 */
function shipment(noun: Record<string, unknown>, path: string, options: InforOptions): NounResult {
  const head = readHeader(noun, path, "ShipmentHeader");
  const shipTo = walk(head.header, head.headerPath, ["ShipToParty"]);
  const location = textAt(shipTo.value, shipTo.path, ["Location", "ID"]) ??
    textAt(shipTo.value, shipTo.path, ["PartyIDs", "ID"]);
  const field = `${shipTo.path}.Location.ID`;
  if (location === undefined) {
    throw new PluginError(`field "${field}" is missing: a shipment must say where it goes`, {
      field,
    });
  }
  const destination = destinationOf(location, options, field);
  const shipFrom = textAt(head.header, head.headerPath, ["ShipFromParty", "Location", "ID"]);
  const mapped = elements(noun, "ShipmentItem", path).map((e, i) => {
    const line = readLine(e.node, e.path, i, "ShippedQuantity", options);
    if (line.quantity <= 0) {
      const at = `${e.path}.ShippedQuantity`;
      throw new PluginError(`field "${at}" is ${line.quantity}: a shipped quantity is positive`, {
        field: at,
      });
    }
    const audit = defined({ shipFrom, shipTo: location });
    return { ...simple("LOT_SHIPPED", line, line.quantity, head.documentId, audit), destination };
  });
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
  Shipment: shipment,
  ProductionOrder: productionOrder,
};
