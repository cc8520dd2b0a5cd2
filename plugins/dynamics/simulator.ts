import type { ErpSimulator, LotOperation, SimulationContext } from "../../gateway/mod.ts";

const D365_UNITS: Record<string, string> = { KGM: "kg", LTR: "L", H87: "pcs", EA: "ea", GRM: "g" };
const PREFIX = "Contoso";

/** A stable, upper-case D365-style GUID for a simulated document. */
function eventGuid(docNo: number, salt: number): string {
  const hex = (docNo * 7 + salt).toString(16).toUpperCase().padStart(12, "0").slice(-12);
  return `${(docNo >>> 0).toString(16).toUpperCase().padStart(8, "0")}-5D36-4E0B-9C61-${hex}`;
}

function envelope(op: LotOperation, name: string, ctx: SimulationContext): Record<string, unknown> {
  const ms = op.at.getTime();
  return {
    BusinessEventId: `${PREFIX}${name}BusinessEvent`,
    BusinessEventLegalEntity: `${ctx.plantId.toLowerCase()}01`,
    ContextRecordSubject: "",
    ControlNumber: 5_637_140_000 + op.docNo,
    EventId: eventGuid(op.docNo, ctx.plantId.charCodeAt(0)),
    EventTime: `/Date(${ms})/`,
    EventTimeIso8601: `${op.at.toISOString().slice(0, 19)}.${
      String(ms % 1000).padStart(3, "0")
    }0000Z`,
    InitiatingUserAADObjectId: "{7A1E43D0-25B9-4C8F-A0D2-6B3F1E98C27A}",
    MajorVersion: 1,
    MinorVersion: 0,
    ParentContextRecordSubjects: [],
  };
}

function fields(op: LotOperation, ctx: SimulationContext): [string, Record<string, unknown>] {
  const unit = D365_UNITS[op.uom] ?? op.uom;
  const day = `/Date(${
    Date.UTC(op.at.getUTCFullYear(), op.at.getUTCMonth(), op.at.getUTCDate())
  })/`;
  switch (op.kind) {
    case "receive":
      return ["PurchProductReceiptPosted", {
        ItemBatchNumber: op.lot,
        ItemNumber: op.material,
        PurchaseOrderNumber: op.purchaseOrder,
        ReceivedInventoryQuantity: op.quantity,
        UnitSymbol: unit,
        VendorAccount: op.supplier,
        VoucherNumber: `PRC-${op.docNo}`,
        WarehouseId: "11",
      }];
    case "produce":
      return ["ProdReportedFinished", {
        ItemBatchNumber: op.lot,
        ItemNumber: op.material,
        ProductionOrderNumber: op.order,
        ProductionSiteId: "1",
        ReportAsFinishedDate: day,
        ReportedGoodInventoryQuantity: op.quantity,
        UnitSymbol: unit,
        VoucherNumber: `PRO-${op.docNo}`,
        WarehouseId: "11",
      }];
    case "stage":
      return ["ProdInputStaged", {
        ItemBatchNumber: op.lot,
        ItemNumber: op.material,
        ProductionOrderNumber: op.order,
        Quantity: op.quantity,
        ToWarehouseId: "12",
        UnitSymbol: unit,
        VoucherNumber: `TRF-${op.docNo}`,
        WarehouseId: "11",
      }];
    case "consume":
      return ["ProdPickingListPosted", {
        BOMUnitSymbol: unit,
        ConsumptionDate: day,
        ConsumptionInventoryQuantity: op.quantity,
        ItemBatchNumber: op.lot,
        ItemNumber: op.material,
        JournalNumber: `PL-${op.docNo}`,
        ProductionOrderNumber: op.order,
        WarehouseId: "12",
      }];
    case "split":
      return ["InventBatchSplitPosted", {
        InventoryJournalNumber: `INV-${op.docNo}`,
        ItemNumber: op.material,
        SiteId: "1",
        SourceBatchNumber: op.parent,
        TargetBatches: op.children.map((c) => ({ BatchNumber: c.lot, Quantity: c.quantity })),
        UnitSymbol: unit,
        WarehouseId: "11",
      }];
    case "merge":
      return ["InventBatchMergePosted", {
        InventoryJournalNumber: `INV-${op.docNo}`,
        ItemNumber: op.material,
        MergedBatchNumber: op.child,
        MergedQuantity: op.parents.reduce((sum, p) => sum + p.quantity, 0),
        SiteId: "1",
        SourceBatches: op.parents.map((p) => ({ BatchNumber: p.lot, Quantity: p.quantity })),
        UnitSymbol: unit,
        WarehouseId: "11",
      }];
    case "reverse": {
      const original = fields(op.original, ctx)[1];
      return ["InventJournalReversed", {
        ItemBatchNumber: op.original.lot,
        ItemNumber: op.material,
        ProductionOrderNumber: op.original.order,
        Quantity: op.original.quantity,
        ReversedVoucherNumber: original.VoucherNumber ?? original.JournalNumber,
        UnitSymbol: unit,
        VoucherNumber: `REV-${op.docNo}`,
      }];
    }
  }
}

/** Renders an operation as a D365 business event; keys alphabetical, as D365 serializes them. */
function render(op: LotOperation, ctx: SimulationContext): unknown {
  const [name, contract] = fields(op, ctx);
  const all = { ...envelope(op, name, ctx), ...contract };
  return Object.fromEntries(Object.entries(all).sort(([a], [b]) => a.localeCompare(b)));
}

const SAMPLE: LotOperation = {
  kind: "consume",
  docNo: 1,
  at: new Date("2026-03-15T09:00:00Z"),
  material: "RM-10022",
  uom: "KGM",
  lot: "RM-250211-0AB",
  quantity: 5,
  order: "P00045121",
};

const MALFORMED: ((ctx: SimulationContext) => Record<string, unknown>)[] = [
  (ctx) => ({
    ...(render(SAMPLE, ctx) as object),
    BusinessEventId: "ContosoSomethingElseHappenedBusinessEvent",
  }),
  (ctx) => ({ ...(render(SAMPLE, ctx) as object), ItemBatchNumber: "" }),
  (ctx) => ({ ...(render(SAMPLE, ctx) as object), ConsumptionInventoryQuantity: "many" }),
  (ctx) => ({
    ...(render(SAMPLE, ctx) as object),
    EventTimeIso8601: undefined,
    EventTime: "/Date(yesterday)/",
  }),
  (ctx) => ({ ...(render(SAMPLE, ctx) as object), BOMUnitSymbol: "bucket" }),
];

/** The D365 simulator: business events as a Service Bus-to-MQTT bridge republishes them. */
export const dynamicsSimulator: ErpSimulator = {
  render,
  malformed: (pick, ctx) => MALFORMED[Math.floor(pick * MALFORMED.length) % MALFORMED.length](ctx),
};
