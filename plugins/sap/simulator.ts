import {
  type ErpSimulator,
  type LotOperation,
  type SimulationContext,
  zonedParts,
} from "../../gateway/mod.ts";

const SAP_UNITS: Record<string, string> = { KGM: "KG", LTR: "L", H87: "ST", GRM: "G", EA: "EA" };

/** Wall-clock parts of `at` in `timeZone` as SAP writes them: YYYYMMDD and HHMMSS. */
function sapLocal(at: Date, timeZone: string): { date: string; time: string; year: string } {
  const p = zonedParts(at, timeZone);
  return {
    date: `${p.year}${p.month}${p.day}`,
    time: `${p.hour}${p.minute}${p.second}`,
    year: p.year,
  };
}

const pad = (value: string, width: number) =>
  /^\d+$/.test(value) ? value.padStart(width, "0") : value;
const qty = (n: number) => n.toFixed(3);

interface ItemSpec {
  batch: string;
  bwart: string;
  quantity: number;
  extra?: Record<string, string>;
}

function items(op: Exclude<LotOperation, { kind: "reverse" }>): ItemSpec[] {
  switch (op.kind) {
    case "receive":
      return [{
        batch: op.lot,
        bwart: "101",
        quantity: op.quantity,
        extra: {
          KZBEW: "B",
          EBELN: op.purchaseOrder,
          EBELP: "00010",
          LIFNR: op.supplier,
          LGORT: "RM01",
        },
      }];
    case "produce":
      return [{
        batch: op.lot,
        bwart: "101",
        quantity: op.quantity,
        extra: { KZBEW: "F", AUFNR: pad(op.order, 12), LGORT: "FG01" },
      }];
    case "split":
      return op.children.map((c) => ({
        batch: op.parent,
        bwart: "311",
        quantity: c.quantity,
        extra: { LGORT: "FG01", UMLGO: "FG01", UMCHA: c.lot },
      }));
    case "merge":
      return op.parents.map((p) => ({
        batch: p.lot,
        bwart: "311",
        quantity: p.quantity,
        extra: { LGORT: "RM01", UMLGO: "RM01", UMCHA: op.child },
      }));
    case "stage":
      return [{
        batch: op.lot,
        bwart: "311",
        quantity: op.quantity,
        extra: { LGORT: "RM01", UMLGO: "PR01", AUFNR: pad(op.order, 12) },
      }];
    case "consume":
      return [{
        batch: op.lot,
        bwart: "261",
        quantity: op.quantity,
        extra: { LGORT: "PR01", AUFNR: pad(op.order, 12) },
      }];
  }
}

/** Material document number of a simulated document. */
function mblnr(docNo: number): string {
  return String(4_900_000_000 + (docNo % 100_000_000));
}

/** Renders a simulated operation as an outbound WMMBXY IDoc (WMMBID02) in JSON. */
function render(op: LotOperation, ctx: SimulationContext): unknown {
  const local = sapLocal(op.at, ctx.timeZone);
  const specs: ItemSpec[] = op.kind === "reverse"
    ? items(op.original).map((s) => ({
      ...s,
      bwart: String(Number(s.bwart) + 1),
      extra: {
        ...s.extra,
        SMBLN: mblnr(op.original.docNo),
        SJAHR: sapLocal(op.original.at, ctx.timeZone).year,
        SMBLP: "0001",
      },
    }))
    : items(op);
  const lines = specs.map((s, i) => ({
    "@SEGMENT": "1",
    MATNR: pad(op.material, 18),
    WERKS: `${ctx.plantId}100`.slice(0, 4),
    CHARG: s.batch,
    BWART: s.bwart,
    SHKZG: ["101", "262", "312"].includes(s.bwart) ? "S" : "H",
    ERFMG: qty(s.quantity),
    ERFME: SAP_UNITS[op.uom] ?? op.uom,
    ...s.extra,
    E1MBXYJ: {
      "@SEGMENT": "1",
      MBLNR: mblnr(op.docNo),
      MJAHR: local.year,
      MBLPO: String(i + 1).padStart(4, "0"),
      MENGE: qty(s.quantity),
      MEINS: SAP_UNITS[op.uom] ?? op.uom,
    },
  }));
  return {
    WMMBID02: {
      IDOC: {
        "@BEGIN": "1",
        EDI_DC40: {
          "@SEGMENT": "1",
          TABNAM: "EDI_DC40",
          MANDT: "410",
          DOCNUM: String(op.docNo).padStart(16, "0"),
          DOCREL: "757",
          STATUS: "30",
          DIRECT: "1",
          IDOCTYP: "WMMBID02",
          MESTYP: "WMMBXY",
          SNDPRT: "LS",
          SNDPRN: "P41CLNT410",
          CREDAT: local.date,
          CRETIM: local.time,
        },
        E1MBXYH: {
          "@SEGMENT": "1",
          BLDAT: local.date,
          BUDAT: local.date,
          USNAM: "MES_RFC",
          TCODE: op.kind === "consume" ? "MB1A" : op.kind === "produce" ? "MB31" : "MIGO",
          E1MBXYI: lines.length === 1 ? lines[0] : lines,
        },
      },
    },
  };
}

const MALFORMED: ((ctx: SimulationContext) => unknown)[] = [
  (ctx) => mutate(ctx, (item) => item.BWART = "999"),
  (ctx) => mutate(ctx, (item) => delete item.CHARG),
  (ctx) => mutate(ctx, (item) => item.ERFMG = "abc"),
  (ctx) => mutate(ctx, (item) => item.ERFME = "BUCKET"),
  (ctx) => {
    const doc = render(sample(), ctx) as {
      WMMBID02: { IDOC: { EDI_DC40: Record<string, unknown> } };
    };
    doc.WMMBID02.IDOC.EDI_DC40.CREDAT = "2026-13-45";
    return doc;
  },
];

function sample(): LotOperation {
  return {
    kind: "consume",
    docNo: 1,
    at: new Date("2026-03-15T09:00:00Z"),
    material: "100200",
    uom: "KGM",
    lot: "L000000001",
    quantity: 5,
    order: "1000001",
  };
}

function mutate(ctx: SimulationContext, change: (item: Record<string, unknown>) => void): unknown {
  const doc = render(sample(), ctx) as {
    WMMBID02: { IDOC: { E1MBXYH: { E1MBXYI: Record<string, unknown> } } };
  };
  change(doc.WMMBID02.IDOC.E1MBXYH.E1MBXYI);
  return doc;
}

/** The SAP simulator: outbound WMMBXY IDocs as an SAP-to-MQTT bridge would republish them. */
export const sapSimulator: ErpSimulator = {
  render,
  malformed: (pick, ctx) => MALFORMED[Math.floor(pick * MALFORMED.length) % MALFORMED.length](ctx),
};
