import type { ErpSimulator, LotOperation, SimulationContext } from "../../gateway/mod.ts";
import { BUSINESS_EVENT_SUFFIXES, type DynamicsKind } from "./options.ts";
import { d365UnitSymbol } from "./unit_symbols.ts";

type Doc = Record<string, unknown>;
type Forward = Exclude<LotOperation, { kind: "reverse" }>;

/** Custom business events carry the customer's prefix; the plugin matches on the suffix. */
const CUSTOMER_PREFIX = "Contoso";
/** ControlNumbers look like RecIds: large, increasing, with gaps. */
const CONTROL_BASE = 5_637_144_576;
const INITIATING_USER = "{7A1E43D0-25B9-4C8F-A0D2-6B3F1E98C27A}";
const SITE = "1";

function pad(n: number): string {
  return String(n).padStart(6, "0");
}

function legalEntity(ctx: SimulationContext): string {
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
function dateField(at: Date, timeZone: string): string {
  const [y, m, d] = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(at).split("-").map(Number);
  return `/Date(${Date.UTC(y, m - 1, d)})/`;
}

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
  }
}

/** The standard envelope around contract fields, keys in DataContract (ordinal) order. */
function businessEvent(op: LotOperation, ctx: SimulationContext, kind: DynamicsKind, fields: Doc) {
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
 * a Service Bus-to-MQTT bridge republishes them.
 */
export const dynamicsSimulator: ErpSimulator = {
  render,
  malformed: (pick, ctx) => MALFORMED[Math.floor(pick * MALFORMED.length) % MALFORMED.length](ctx),
};
