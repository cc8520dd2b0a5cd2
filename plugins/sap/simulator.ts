import type { ErpSimulator, LotOperation, SimulationContext } from "../../gateway/mod.ts";
import { answer } from "./answer.ts";
import { pad, type SimulatedIdoc, wmmbxy } from "./idoc_render.ts";
import { sapLocal, sapUnit } from "./sap_format.ts";

type Item = Record<string, unknown>;
type Original = Extract<LotOperation, { kind: "reverse" }>["original"];

/** Goods receipts take material document numbers from range 50, issues and transfers from 49. */
function isReceipt(op: LotOperation): boolean {
  return op.kind === "receive" || op.kind === "produce";
}

/** The material document number SAP gave an operation's posting. */
function materialDocument(op: LotOperation): string {
  return `${isReceipt(op) ? "50" : "49"}${String(op.docNo % 100_000_000).padStart(8, "0")}`;
}

/** The E1MBXYI items of an operation, without the result segment. */
function items(op: Exclude<LotOperation, { kind: "reverse" }>, timeZone: string): Item[] {
  const unit = sapUnit(op.uom);
  const line = (batch: string, bwart: string, quantity: number, fields: Item): Item => ({
    CHARG: batch,
    BWART: bwart,
    ...fields,
    ERFMG: quantity.toFixed(3),
    ERFME: unit,
  });
  const transfer = (from: string, to: string, quantity: number): Item =>
    line(from, "311", quantity, {
      SHKZG: "H",
      LGORT: "FG01",
      UMMAT: pad(op.material, 18),
      UMLGO: "FG01",
      UMCHA: to,
    });
  switch (op.kind) {
    case "receive":
      return [line(op.lot, "101", op.quantity, {
        KZBEW: "B",
        SHKZG: "S",
        LGORT: "RM01",
        EBELN: pad(op.purchaseOrder, 10),
        EBELP: "00010",
        LIFNR: pad(op.supplier, 10),
      })];
    case "produce":
      return [line(op.lot, "101", op.quantity, {
        KZBEW: "F",
        SHKZG: "S",
        LGORT: "FG01",
        AUFNR: pad(op.order, 12),
        HSDAT: sapLocal(op.at, timeZone).date,
      })];
    case "split":
      return op.children.map((c) => transfer(op.parent, c.lot, c.quantity));
    case "merge":
      return op.parents.map((p) => transfer(p.lot, op.child, p.quantity));
    case "stage":
      return [line(op.lot, "311", op.quantity, {
        SHKZG: "H",
        LGORT: "RM01",
        UMMAT: pad(op.material, 18),
        UMLGO: "PSA1",
        UMCHA: op.lot,
        AUFNR: pad(op.order, 12),
      })];
    case "consume":
      return [line(op.lot, "261", op.quantity, {
        SHKZG: "H",
        LGORT: "PSA1",
        AUFNR: pad(op.order, 12),
        RSNUM: String(op.docNo % 10_000_000_000).padStart(10, "0"),
        RSPOS: "0001",
      })];
    case "ship":
      // A goods issue for a stock transport order: the simulated site's SAP plant codes are the
      // plantgate plant ids (the plantIds option's default), so UMWRK is the target plant id.
      return [line(op.lot, "351", op.quantity, {
        KZBEW: "B",
        SHKZG: "H",
        LGORT: "FG01",
        EBELN: pad(op.shipment, 10),
        EBELP: "00010",
        UMWRK: op.toPlant,
      })];
  }
}

/** A reversal repeats the original's items with movement type + 1, the other side, and SMBLN. */
function reversalItems(original: Original, timeZone: string): Item[] {
  return items(original, timeZone).map((item, i) => ({
    ...item,
    BWART: String(Number(item.BWART) + 1),
    SHKZG: item.SHKZG === "S" ? "H" : "S",
    SMBLN: materialDocument(original),
    SJAHR: sapLocal(original.at, timeZone).year,
    SMBLP: String(i + 1).padStart(4, "0"),
  }));
}

const TCODES: Record<LotOperation["kind"], string> = {
  receive: "MIGO_GR",
  produce: "MB31",
  split: "MB1B",
  merge: "MB1B",
  stage: "MB1B",
  consume: "MB1A",
  reverse: "MBST",
  ship: "MIGO_GI",
};

/**
 * An operation as the outbound WMMBXY IDoc (basic type WMMBID02) SAP writes when the material
 * document is posted, in the JSON an IDoc-to-MQTT bridge makes of it: one object for one item,
 * an array for several; SAP's initial values ("00000") in unused numeric fields.
 */
function render(op: LotOperation, ctx: SimulationContext): unknown {
  const specs = op.kind === "reverse"
    ? reversalItems(op.original, ctx.timeZone)
    : items(op, ctx.timeZone);
  const lines = specs.map((spec) => ({
    MATNR: pad(op.material, 18),
    WERKS: ctx.plantId.toUpperCase().slice(0, 4),
    ...spec,
  }));
  return wmmbxy(lines, {
    docNo: op.docNo,
    at: op.at,
    materialDocument: materialDocument(op),
    unit: sapUnit(op.uom),
    header: {
      XBLNR: op.kind === "receive" ? `DN${op.docNo}` : "",
      BKTXT: `plantgate sim ${op.kind}`,
      USNAM: "MES_RFC",
      TCODE: TCODES[op.kind],
    },
  }, ctx);
}

/** The ways a simulated document can be broken; each must be refused by `decode`. */
export const MALFORMED_KINDS: readonly { name: string; breaks: (doc: SimulatedIdoc) => void }[] = [
  { name: "unknown movement type 999", breaks: (d) => item(d).BWART = "999" },
  { name: "missing batch (CHARG)", breaks: (d) => delete item(d).CHARG },
  { name: "quantity is not a number", breaks: (d) => item(d).ERFMG = "abc" },
  {
    name: "creation date is not YYYYMMDD",
    breaks: (d) => d.WMMBID02.IDOC.EDI_DC40.CREDAT = "2026-03-15",
  },
  {
    name: "day the month does not have",
    breaks: (d) => d.WMMBID02.IDOC.EDI_DC40.CREDAT = "20260230",
  },
  {
    name: "unit without a Rec 20 mapping",
    breaks: (d) => {
      item(d).ERFME = "ZZ1";
      item(d).E1MBXYJ.MEINS = "ZZ1";
    },
  },
  { name: "zero quantity", breaks: (d) => item(d).ERFMG = item(d).E1MBXYJ.MENGE = "0.000" },
  {
    name: "no document key (no E1MBXYJ, no DOCNUM)",
    breaks: (d) => {
      delete (item(d) as Item).E1MBXYJ;
      delete d.WMMBID02.IDOC.EDI_DC40.DOCNUM;
    },
  },
  {
    name: "goods receipt 101 without order or purchase order",
    breaks: (d) => {
      Object.assign(item(d), { BWART: "101", SHKZG: "S", AUFNR: "", RSNUM: "0000000000" });
    },
  },
  {
    name: "not a goods movement (MATMAS)",
    breaks: (d) => {
      const doc = d as unknown as Record<string, unknown>;
      const control = { ...d.WMMBID02.IDOC.EDI_DC40, IDOCTYP: "MATMAS05", MESTYP: "MATMAS" };
      const material = { "@SEGMENT": "1", MATNR: "000000000000100200", MEINS: "KG" };
      doc.MATMAS05 = { IDOC: { "@BEGIN": "1", EDI_DC40: control, E1MARAM: material } };
      delete doc.WMMBID02;
    },
  },
];

function item(doc: SimulatedIdoc): Item & { E1MBXYJ: Item } {
  return doc.WMMBID02.IDOC.E1MBXYH.E1MBXYI;
}

const MALFORMED_BASE: LotOperation = {
  kind: "consume",
  docNo: 900_001,
  at: new Date("2026-03-15T09:00:00Z"),
  material: "100200",
  uom: "KGM",
  lot: "L000900001",
  quantity: 5,
  order: "1000901",
};

/** A malformed document of the kind `pick` (in [0, 1)) selects. */
function malformed(pick: number, ctx: SimulationContext): unknown {
  const n = MALFORMED_KINDS.length;
  const index = Number.isFinite(pick) ? Math.min(n - 1, Math.max(0, Math.floor(pick * n))) : 0;
  const doc = render(MALFORMED_BASE, ctx) as SimulatedIdoc;
  MALFORMED_KINDS[index].breaks(doc);
  return doc;
}

/**
 * The SAP simulator: outbound WMMBXY IDocs as an SAP-to-MQTT bridge republishes them, and SAP's
 * answers to commands (the posted WMMBXY, or the MBGMCR it could not post, in status 51; for
 * REPORT_LOTS the RMCPAMRP job with its LOISTD01 IDocs, or cancelled).
 */
export const sapSimulator: ErpSimulator = { render, malformed, answer };
