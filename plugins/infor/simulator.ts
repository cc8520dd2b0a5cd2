import type { ErpSimulator, LotOperation, SimulationContext } from "../../gateway/mod.ts";

const TENANT = "ACME_PRD";
const ENTITY = "100_AAA";

interface LineSpec {
  lot: string;
  quantity: number;
  order?: string;
}

function bodId(
  noun: string,
  ctx: SimulationContext,
  documentId: string,
  revision: number,
  variation: number,
): string {
  return `infor-nid:${TENANT}:${ENTITY}:${ctx.plantId}:${documentId}:${revision}?${noun}&verb=Sync&variationID=${variation}`;
}

function adjustment(
  op: Exclude<LotOperation, { kind: "reverse" | "receive" }>,
): { reason: string; lines: LineSpec[] } {
  switch (op.kind) {
    case "produce":
      return { reason: "PRD", lines: [{ lot: op.lot, quantity: op.quantity, order: op.order }] };
    case "consume":
      return { reason: "11", lines: [{ lot: op.lot, quantity: -op.quantity, order: op.order }] };
    case "stage":
      return { reason: "STG", lines: [{ lot: op.lot, quantity: op.quantity, order: op.order }] };
    case "split":
      return {
        reason: "LOT",
        lines: [
          { lot: op.parent, quantity: -op.children.reduce((s, c) => s + c.quantity, 0) },
          ...op.children.map((c) => ({ lot: c.lot, quantity: c.quantity })),
        ],
      };
    case "merge":
      return {
        reason: "LOT",
        lines: [
          ...op.parents.map((p) => ({ lot: p.lot, quantity: -p.quantity })),
          { lot: op.child, quantity: op.parents.reduce((s, p) => s + p.quantity, 0) },
        ],
      };
  }
}

function envelope(
  noun: string,
  ctx: SimulationContext,
  at: Date,
  id: string,
  action: string,
  area: unknown,
): unknown {
  return {
    [`Sync${noun}`]: {
      "@releaseID": "9.2",
      "@versionID": "2.14.0",
      ApplicationArea: {
        Sender: {
          LogicalID: "lid://infor.m3.m3be",
          ComponentID: "M3BE",
          ConfirmationCode: "OnError",
        },
        CreationDateTime: at.toISOString(),
        BODID: id,
      },
      DataArea: {
        Sync: {
          TenantID: TENANT,
          AccountingEntityID: ENTITY,
          LocationID: ctx.plantId,
          ActionCriteria: { ActionExpression: { "@actionCode": action } },
        },
        [noun]: area,
      },
    },
  };
}

function documentIdOf(op: LotOperation): string {
  return `${op.kind === "receive" ? "RCV" : "ADJ"}-${op.docNo}`;
}

/** Renders an operation as an ION BOD in JSON (element -> key, attribute -> @attr). */
function render(op: LotOperation, ctx: SimulationContext): unknown {
  const original = op.kind === "reverse" ? op.original : op;
  const action = op.kind === "reverse" ? "Delete" : "Add";
  const documentId = documentIdOf(original);
  const revision = op.kind === "reverse" ? 2 : 1;
  if (original.kind === "receive") {
    const item = {
      LineNumber: "1",
      Item: { ItemID: { ID: original.material } },
      ReceivedQuantity: { "@unitCode": original.uom, "#text": String(original.quantity) },
      ItemInstance: { Lot: { LotIDs: { ID: original.lot } } },
      PurchaseOrderReference: { DocumentID: { ID: original.purchaseOrder } },
      SupplierParty: { PartyIDs: { ID: original.supplier } },
    };
    return envelope(
      "ReceiveDelivery",
      ctx,
      op.at,
      bodId("ReceiveDelivery", ctx, documentId, revision, op.docNo),
      action,
      {
        ReceiveDeliveryHeader: {
          DocumentID: {
            ID: { "@accountingEntity": ENTITY, "@location": ctx.plantId, "#text": documentId },
          },
        },
        ReceiveDeliveryItem: item,
      },
    );
  }
  const { reason, lines } = adjustment(original);
  const rendered = lines.map((l, i) => ({
    LineNumber: String(i + 1),
    Item: { ItemID: { ID: original.material } },
    Quantity: { "@unitCode": original.uom, "#text": String(l.quantity) },
    ItemInstance: { Lot: { LotIDs: { ID: l.lot } } },
    WarehouseLocation: { ID: reason === "STG" ? "PRODSTG" : ctx.plantId },
    ...(l.order
      ? { DocumentReference: { "@type": "ManufacturingOrder", DocumentID: { ID: l.order } } }
      : {}),
  }));
  return envelope(
    "InventoryAdjustment",
    ctx,
    op.at,
    bodId("InventoryAdjustment", ctx, documentId, revision, op.docNo),
    action,
    {
      InventoryAdjustmentHeader: {
        DocumentID: {
          ID: { "@accountingEntity": ENTITY, "@location": ctx.plantId, "#text": documentId },
        },
        DocumentDateTime: op.at.toISOString(),
        ReasonCode: reason,
      },
      InventoryAdjustmentLine: rendered.length === 1 ? rendered[0] : rendered,
    },
  );
}

const SAMPLE: LotOperation = {
  kind: "consume",
  docNo: 1,
  at: new Date("2026-03-15T09:00:00Z"),
  material: "RM-10022",
  uom: "KGM",
  lot: "R2502110AB",
  quantity: 5,
  order: "7001245",
};

type Bod = {
  SyncInventoryAdjustment: Record<string, Record<string, Record<string, Record<string, unknown>>>>;
};

function mutate(
  ctx: SimulationContext,
  change: (bod: Bod["SyncInventoryAdjustment"]) => void,
): unknown {
  const doc = render(SAMPLE, ctx) as Bod;
  change(doc.SyncInventoryAdjustment);
  return doc;
}

const MALFORMED: ((ctx: SimulationContext) => unknown)[] = [
  (ctx) => ({ SyncItemMaster: (render(SAMPLE, ctx) as Bod).SyncInventoryAdjustment }),
  (ctx) =>
    mutate(ctx, (b) => delete b.DataArea.InventoryAdjustment.InventoryAdjustmentLine.ItemInstance),
  (ctx) =>
    mutate(
      ctx,
      (b) =>
        (b.DataArea.InventoryAdjustment.InventoryAdjustmentLine.Quantity as Record<
          string,
          unknown
        >)["#text"] = "lots",
    ),
  (ctx) => mutate(ctx, (b) => b.ApplicationArea.CreationDateTime = "14.03.2025 06:49" as never),
  (ctx) =>
    mutate(
      ctx,
      (b) =>
        (b.DataArea.InventoryAdjustment.InventoryAdjustmentLine.Quantity as Record<
          string,
          unknown
        >)["@unitCode"] = "BUCKET",
    ),
];

/** The Infor simulator: Sync BODs as an ION-to-MQTT bridge renders them in JSON. */
export const inforSimulator: ErpSimulator = {
  render,
  malformed: (pick, ctx) => MALFORMED[Math.floor(pick * MALFORMED.length) % MALFORMED.length](ctx),
};
