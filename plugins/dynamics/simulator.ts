import type { ErpSimulator, LotOperation, SimulationContext } from "../../gateway/mod.ts";
import { answer } from "./answer.ts";
import { businessEvent, dateField, pad } from "./business_event.ts";
import type { DynamicsKind } from "./options.ts";
import { d365UnitSymbol } from "./unit_symbols.ts";

type Doc = Record<string, unknown>;
type Forward = Exclude<LotOperation, { kind: "reverse" }>;

const SITE = "1";

/** The contract fields of an operation posted under document number `docNo`. */
function contract(op: Forward, docNo: number, date: string, sign: 1 | -1): [DynamicsKind, Doc] {
  const unit = d365UnitSymbol(op.uom);
  switch (op.kind) {
    case "produce":
      return ["report-as-finished", {
        ItemBatchNumber: op.lot,
        JournalLineNumber: 1,
        JournalNumber: `PJ-${pad(docNo)}`,
        ProductionOrderNumber: op.order,
        ProductionSiteId: SITE,
        ReportAsFinishedDate: date,
        ReportedErrorInventoryQuantity: 0,
        ReportedGoodInventoryQuantity: sign * op.quantity,
        VoucherNumber: `PRD-${pad(docNo)}`,
        WarehouseId: "FG",
      }];
    case "receive":
      return ["product-receipt", {
        ItemBatchNumber: op.lot,
        ProductReceiptDate: date,
        ProductReceiptNumber: `PR-${pad(docNo)}`,
        PurchaseOrderLineNumber: 1,
        PurchaseOrderNumber: op.purchaseOrder,
        ReceivedInventoryQuantity: sign * op.quantity,
        SiteId: SITE,
        VendorAccountNumber: op.supplier,
        VoucherNumber: `GRN-${pad(docNo)}`,
        WarehouseId: "RM",
      }];
    case "consume":
      return ["picking-list", {
        BOMUnitSymbol: unit,
        ConsumptionBOMQuantity: sign * op.quantity,
        ConsumptionDate: date,
        ConsumptionInventoryQuantity: sign * op.quantity,
        InventoryLotId: pad(docNo + 5000),
        IsConsumptionEnded: "No",
        ItemBatchNumber: op.lot,
        JournalLineNumber: 1,
        JournalNumber: `PJ-${pad(docNo)}`,
        ProductionOrderNumber: op.order,
        ProductionSiteId: SITE,
        VoucherNumber: `PRD-${pad(docNo)}`,
        WarehouseId: "PROD",
      }];
    case "stage":
      return ["staging", {
        FromWarehouseLocationId: "BULK-01",
        InventoryQuantity: sign * op.quantity,
        ItemBatchNumber: op.lot,
        JournalLineNumber: 1,
        JournalNumber: `INV-${pad(docNo)}`,
        ProductionOrderNumber: op.order,
        SiteId: SITE,
        ToWarehouseLocationId: "PIL-01",
        TransactionDate: date,
        VoucherNumber: `IVT-${pad(docNo)}`,
        WarehouseId: "PROD",
      }];
    case "merge":
      return ["batch-merge", {
        InventoryJournalNumber: `INV-${pad(docNo)}`,
        MergedBatchNumber: op.child,
        MergedQuantity: op.parents.reduce((sum, p) => sum + p.quantity, 0),
        SiteId: SITE,
        SourceBatches: op.parents.map((p) => ({ BatchNumber: p.lot, Quantity: p.quantity })),
        TransactionDate: date,
        WarehouseId: "RM",
      }];
    case "split":
      return ["batch-split", {
        InventoryJournalNumber: `INV-${pad(docNo)}`,
        SiteId: SITE,
        SourceBatchNumber: op.parent,
        TargetBatches: op.children.map((c) => ({ BatchNumber: c.lot, Quantity: c.quantity })),
        TransactionDate: date,
        WarehouseId: "FG",
      }];
    case "ship":
      // The simulated site's warehouse ids are the plantgate plant ids (plantIds' default).
      return ["transfer-shipment", {
        ItemBatchNumber: op.lot,
        ReceivingWarehouseId: op.toPlant,
        ShipDate: date,
        ShippedQuantity: sign * op.quantity,
        ShippingWarehouseId: "FG",
        SiteId: SITE,
        TransferOrderLineNumber: 1,
        TransferOrderNumber: op.shipment,
        VoucherNumber: `TSH-${pad(docNo)}`,
      }];
  }
}

/** Renders an operation as the one business event D365 raises when it is posted. */
function render(op: LotOperation, ctx: SimulationContext): Doc {
  const date = dateField(op.at, ctx.timeZone);
  if (op.kind !== "reverse") return businessEvent(op, ctx, ...contract(op, op.docNo, date, 1));
  // D365 reverses a journal by posting the same journal type with a negative quantity.
  const [kind, fields] = contract(op.original, op.docNo, date, -1);
  const original = contract(op.original, op.original.docNo, date, 1)[1];
  return businessEvent(op, ctx, kind, { ...fields, ReversedVoucherNumber: original.VoucherNumber });
}

const SAMPLE_AT = new Date("2026-03-15T09:00:00Z");

function consumed(ctx: SimulationContext): Doc {
  const op: LotOperation = {
    kind: "consume",
    docNo: 1,
    at: SAMPLE_AT,
    material: "RM-10022",
    uom: "KGM",
    lot: "RM-260301-0AB",
    quantity: 120,
    order: "P00000001",
  };
  return render(op, ctx);
}

function merged(ctx: SimulationContext): Doc {
  const op: LotOperation = {
    kind: "merge",
    docNo: 2,
    at: SAMPLE_AT,
    material: "RM-10022",
    uom: "KGM",
    parents: [{ lot: "RM-260301-0AB", quantity: 40 }, { lot: "RM-260302-0CC", quantity: 21.5 }],
    child: "RM-260315-M01",
  };
  return render(op, ctx);
}

/** Documents decode must reject, one per way a real feed goes wrong. */
const MALFORMED: ((ctx: SimulationContext) => unknown)[] = [
  // A standard event routed to the lot topic.
  (ctx) => ({ ...consumed(ctx), BusinessEventId: "SalesInvoicePostedBusinessEvent" }),
  // The item is not batch-controlled.
  (ctx) => ({ ...consumed(ctx), ItemBatchNumber: "" }),
  // A bridge that formats numbers.
  (ctx) => ({ ...consumed(ctx), ConsumptionInventoryQuantity: "120,000" }),
  (ctx) => {
    const doc = consumed(ctx);
    delete doc.EventTimeIso8601;
    return { ...doc, EventTime: "/Date(2026-03-15T09:00:00Z)/" };
  },
  (ctx) => ({ ...consumed(ctx), EventTimeIso8601: "2026-03-15 09:00:00" }),
  (ctx) => ({ ...consumed(ctx), UnitSymbol: "bucket" }),
  (ctx) => ({ ...consumed(ctx), ControlNumber: "5637144577" }),
  (ctx) => ({ ...consumed(ctx), MajorVersion: 2 }),
  (ctx) => {
    const doc = merged(ctx);
    delete (doc.SourceBatches as Doc[])[1].BatchNumber;
    return doc;
  },
  (ctx) => ({ ...merged(ctx), MergedQuantity: 60 }),
  // A batch of events where one event per message is expected.
  (ctx) => [consumed(ctx), merged(ctx)],
];

/** How many different malformed documents {@linkcode dynamicsSimulator} makes. */
export const MALFORMED_KINDS: number = MALFORMED.length;

/**
 * The D365 simulator: custom inventory/production business events on the standard envelope, as
 * a Service Bus-to-MQTT bridge republishes them; answers to commands are the events raised when
 * their adjustment journal posts or fails to post, and to REPORT_LOTS the on-hand query's
 * response (or OData error) as the bridge publishes it.
 */
export const dynamicsSimulator: ErpSimulator = {
  render,
  malformed: (pick, ctx) => MALFORMED[Math.floor(pick * MALFORMED.length) % MALFORMED.length](ctx),
  answer,
};
