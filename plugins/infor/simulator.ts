import type { ErpSimulator, LotOperation, SimulationContext } from "../../gateway/mod.ts";
import { answer } from "./answer.ts";
import { type Document, ENTITY, envelope } from "./bod_render.ts";

type Original = Exclude<LotOperation, { kind: "reverse" }>;

/** XML-to-JSON bridges give one element as an object and several as an array. */
function one<T>(items: T[]): T | T[] {
  return items.length === 1 ? items[0] : items;
}

/** LN writes whole seconds in document dates, milliseconds in CreationDateTime. */
function seconds(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function header(op: Original, ctx: SimulationContext, id: string, extra = {}) {
  return {
    DocumentID: { ID: { "@accountingEntity": ENTITY, "@location": ctx.plantId, "#text": id } },
    DocumentDateTime: seconds(op.at),
    ...extra,
  };
}

function lotLine(n: number, op: Original, lot: string, quantity: number, extra = {}) {
  return {
    LineNumber: String(n),
    Item: { ItemID: { ID: op.material } },
    Quantity: { "@unitCode": op.uom, "#text": String(quantity) },
    ItemInstance: { Lot: { LotIDs: { ID: lot } } },
    ...extra,
  };
}

function orderReference(order: string) {
  return { DocumentReference: { "@type": "ProductionOrder", DocumentID: { ID: order } } };
}

function adjustment(
  op: Original,
  ctx: SimulationContext,
  reasonCode: string,
  lines: unknown[],
): Document {
  const id = `IA${String(op.docNo).padStart(8, "0")}`;
  return {
    noun: "InventoryAdjustment",
    documentId: id,
    body: {
      InventoryAdjustmentHeader: header(op, ctx, id, { ReasonCode: reasonCode }),
      InventoryAdjustmentLine: one(lines),
    },
  };
}

function receipt(op: Extract<Original, { kind: "receive" }>, ctx: SimulationContext): Document {
  const id = `RCV${String(op.docNo).padStart(8, "0")}`;
  return {
    noun: "ReceiveDelivery",
    documentId: id,
    body: {
      ReceiveDeliveryHeader: header(op, ctx, id, {
        SupplierParty: { PartyIDs: { ID: op.supplier } },
      }),
      ReceiveDeliveryItem: {
        LineNumber: "1",
        Item: { ItemID: { ID: op.material } },
        ReceivedQuantity: { "@unitCode": op.uom, "#text": String(op.quantity) },
        ItemInstance: { Lot: { LotIDs: { ID: op.lot } } },
        PurchaseOrderReference: { DocumentID: { ID: op.purchaseOrder }, LineNumber: "10" },
        WarehouseLocation: { ID: "RM01" },
      },
    },
  };
}

function move(op: Extract<Original, { kind: "stage" }>, ctx: SimulationContext): Document {
  const id = `MV${String(op.docNo).padStart(8, "0")}`;
  return {
    noun: "MoveInventory",
    documentId: id,
    body: {
      MoveInventoryHeader: header(op, ctx, id),
      MoveInventoryLine: lotLine(1, op, op.lot, op.quantity, {
        FromLocation: { ID: "RM01" },
        ToLocation: { ID: "PSA01" },
        ...orderReference(op.order),
      }),
    },
  };
}

/**
 * A shipment to another plant (a transfer order's warehouse shipment): the shipment id is the
 * reference; the simulated site's ship-to locations are the plantgate plant ids (the plantIds
 * option's default).
 */
function shipment(op: Extract<Original, { kind: "ship" }>, ctx: SimulationContext): Document {
  return {
    noun: "Shipment",
    documentId: op.shipment,
    body: {
      ShipmentHeader: header(op, ctx, op.shipment, {
        ShipFromParty: { Location: { ID: ctx.plantId } },
        ShipToParty: { Location: { ID: op.toPlant } },
      }),
      ShipmentItem: {
        LineNumber: "1",
        Item: { ItemID: { ID: op.material } },
        ShippedQuantity: { "@unitCode": op.uom, "#text": String(op.quantity) },
        ItemInstance: { Lot: { LotIDs: { ID: op.lot } } },
        WarehouseLocation: { ID: "FG01" },
      },
    },
  };
}

/** The document an operation is in LN: a receipt, an adjustment, a move or a shipment. */
function document(op: Original, ctx: SimulationContext): Document {
  switch (op.kind) {
    case "receive":
      return receipt(op, ctx);
    case "ship":
      return shipment(op, ctx);
    case "stage":
      return move(op, ctx);
    case "produce":
      return adjustment(op, ctx, "10", [
        lotLine(1, op, op.lot, op.quantity, {
          WarehouseLocation: { ID: "FG01" },
          ...orderReference(op.order),
        }),
      ]);
    case "consume":
      return adjustment(op, ctx, "11", [
        lotLine(1, op, op.lot, -op.quantity, {
          WarehouseLocation: { ID: "PSA01" },
          ...orderReference(op.order),
        }),
      ]);
    case "split": {
      const total = op.children.reduce((sum, c) => sum + c.quantity, 0);
      return adjustment(op, ctx, "90", [
        lotLine(1, op, op.parent, -total),
        ...op.children.map((c, i) => lotLine(i + 2, op, c.lot, c.quantity)),
      ]);
    }
    case "merge": {
      const total = op.parents.reduce((sum, p) => sum + p.quantity, 0);
      return adjustment(op, ctx, "90", [
        ...op.parents.map((p, i) => lotLine(i + 1, op, p.lot, -p.quantity)),
        lotLine(op.parents.length + 1, op, op.child, total),
      ]);
    }
  }
}

/**
 * Renders an operation as the Sync BOD an Infor LN system publishes through ION, in the JSON a
 * bridge republishes on MQTT. `docNo` numbers the document and is its BODID variationID; a
 * reversal is the original document again with actionCode Delete, revision 2 and its own
 * variationID and CreationDateTime.
 */
function render(op: LotOperation, ctx: SimulationContext): unknown {
  if (op.kind === "reverse") {
    return envelope(document(op.original, ctx), ctx, {
      at: op.at,
      actionCode: "Delete",
      revision: 2,
      variationId: op.docNo,
    });
  }
  return envelope(document(op, ctx), ctx, {
    at: op.at,
    actionCode: "Add",
    revision: 1,
    variationId: op.docNo,
  });
}

type Obj = Record<string, unknown>;
type Bod = {
  SyncInventoryAdjustment: Obj & {
    ApplicationArea: Obj;
    DataArea: Obj & { Sync: Obj; InventoryAdjustment: Obj };
  };
};

function sample(ctx: SimulationContext): Bod {
  return render({
    kind: "consume",
    docNo: 1,
    at: new Date("2026-03-15T09:00:00Z"),
    material: "RM-10022",
    uom: "KGM",
    lot: "L000000001",
    quantity: 5,
    order: "1000001",
  }, ctx) as Bod;
}

function withLine(ctx: SimulationContext, change: (line: Obj) => void): Bod {
  const bod = sample(ctx);
  change(bod.SyncInventoryAdjustment.DataArea.InventoryAdjustment.InventoryAdjustmentLine as Obj);
  return bod;
}

/** Plugin-level defects, each of which decode must turn into a dead letter. */
const MALFORMED: ((ctx: SimulationContext) => unknown)[] = [
  (ctx) => {
    const { SyncInventoryAdjustment: bod } = sample(ctx);
    const { InventoryAdjustment: noun, ...rest } = bod.DataArea;
    return { SyncInventoryHold: { ...bod, DataArea: { ...rest, InventoryHold: noun } } };
  },
  (ctx) => withLine(ctx, (line) => delete line.ItemInstance),
  (ctx) => withLine(ctx, (line) => line.Quantity = { "@unitCode": "KGM", "#text": "five" }),
  (ctx) => withLine(ctx, (line) => line.Quantity = { "@unitCode": "BUCKET", "#text": "-5" }),
  (ctx) => withLine(ctx, (line) => line.ItemInstance = "L000000001"),
  (ctx) => {
    const bod = sample(ctx);
    bod.SyncInventoryAdjustment.ApplicationArea.CreationDateTime = "15.03.2026 10:00:00";
    return bod;
  },
  (ctx) => {
    const bod = sample(ctx);
    delete bod.SyncInventoryAdjustment.ApplicationArea.BODID;
    return bod;
  },
  (ctx) => {
    const bod = sample(ctx);
    bod.SyncInventoryAdjustment.DataArea.Sync.ActionCriteria = {
      ActionExpression: { "@actionCode": "Purge" },
    };
    return bod;
  },
];

/** Number of distinct malformed kinds (`malformed` picks one by `pick`). */
export const MALFORMED_KINDS = MALFORMED.length;

/**
 * The Infor simulator: Sync BODs of an LN system as an ION-to-MQTT bridge republishes them, and
 * LN's answers to plantgate's Process BODs (the Sync of the posted document, or an Acknowledge
 * that rejects it) and to its GetInventoryBalance (a ShowInventoryBalance of the stock it holds).
 */
export const inforSimulator: ErpSimulator = {
  render,
  malformed: (pick, ctx) => MALFORMED[Math.floor(pick * MALFORMED.length) % MALFORMED.length](ctx),
  answer,
};
