/**
 * Writing SAP IDocs as an IDoc-to-MQTT bridge renders them (element -> key, attribute ->
 * `@attr`), for the simulator: the control record and the outbound WMMBXY of a posted material
 * document.
 *
 * @module
 */
import type { SimulationContext } from "../../gateway/mod.ts";
import { sapLocal } from "./sap_format.ts";

type Item = Record<string, unknown>;

/** Numeric SAP keys are zero-padded to their length (ALPHA conversion). */
export function pad(value: string, width: number): string {
  return /^\d+$/.test(value) ? value.padStart(width, "0") : value;
}

/** SAP writes unused numeric fields as zeros, not as empty strings. */
const INITIAL: Item = {
  EBELP: "00000",
  RSNUM: "0000000000",
  SJAHR: "0000",
  SMBLP: "0000",
  VFDAT: "00000000",
};

/** The simulated SAP system (client 410 of P41) and the edge it talks to. */
const SAP_PARTNER = { PORT: "SAPP41", PRN: "P41CLNT410" };

function edgePartner(ctx: SimulationContext): string {
  return `EDGE_${ctx.plantId}`.toUpperCase().slice(0, 10);
}

/**
 * The control record of an IDoc: outbound from SAP to the edge (`DIRECT` 1), or inbound from the
 * edge into SAP (`DIRECT` 2, e.g. a command SAP could not post) with its current status.
 */
export function controlRecord(
  idoc: { type: string; message: string; docNo: number; at: Date; status: string },
  ctx: SimulationContext,
): Item {
  const local = sapLocal(idoc.at, ctx.timeZone);
  const outbound = idoc.status === "30";
  const sap = { POR: SAP_PARTNER.PORT, PRT: "LS", PRN: SAP_PARTNER.PRN };
  const edge = { POR: "PLANTGATE", PRT: "LS", PRN: edgePartner(ctx) };
  const [sender, receiver] = outbound ? [sap, edge] : [edge, sap];
  return {
    "@SEGMENT": "1",
    TABNAM: "EDI_DC40",
    MANDT: "410",
    DOCNUM: String(idoc.docNo).padStart(16, "0"),
    DOCREL: "757",
    STATUS: idoc.status,
    DIRECT: outbound ? "1" : "2",
    OUTMOD: "2",
    IDOCTYP: idoc.type,
    MESTYP: idoc.message,
    SNDPOR: sender.POR,
    SNDPRT: sender.PRT,
    SNDPRN: sender.PRN,
    RCVPOR: receiver.POR,
    RCVPRT: receiver.PRT,
    RCVPRN: receiver.PRN,
    CREDAT: local.date,
    CRETIM: local.time,
  };
}

/** What a WMMBXY IDoc says besides its items. */
export interface WmmbxySpec {
  docNo: number;
  at: Date;
  /** MBLNR of the posted material document. */
  materialDocument: string;
  /** MEINS of the result segments (the entry unit, in SAP's spelling). */
  unit: string;
  /** E1MBXYH fields after the dates (XBLNR, BKTXT, USNAM, TCODE, ...). */
  header: Item;
}

/**
 * The outbound WMMBXY IDoc (basic type WMMBID02) of a posted material document: one E1MBXYI
 * per item (MSEG names, `MATNR` and `WERKS` first), each with its E1MBXYJ result segment; one
 * object for one item, an array for several.
 */
export function wmmbxy(lines: Item[], spec: WmmbxySpec, ctx: SimulationContext): unknown {
  const local = sapLocal(spec.at, ctx.timeZone);
  const items = lines.map((line, i) => ({
    "@SEGMENT": "1",
    ...line,
    ...Object.fromEntries(Object.entries(INITIAL).filter(([key]) => !(key in line))),
    E1MBXYJ: {
      "@SEGMENT": "1",
      MBLNR: spec.materialDocument,
      MJAHR: local.year,
      MBLPO: String(i + 1).padStart(4, "0"),
      MENGE: line.ERFMG,
      MEINS: spec.unit,
    },
  }));
  const control = { type: "WMMBID02", message: "WMMBXY", status: "30" };
  return {
    WMMBID02: {
      IDOC: {
        "@BEGIN": "1",
        EDI_DC40: controlRecord({ ...control, docNo: spec.docNo, at: spec.at }, ctx),
        E1MBXYH: {
          "@SEGMENT": "1",
          BLDAT: local.date,
          BUDAT: local.date,
          ...spec.header,
          E1MBXYI: items.length === 1 ? items[0] : items,
        },
      },
    },
  };
}

/** The shape of a simulated WMMBXY with one item, for breaking it on purpose. */
export interface SimulatedIdoc {
  WMMBID02: {
    IDOC: { EDI_DC40: Item; E1MBXYH: { E1MBXYI: Item & { E1MBXYJ: Item } } };
  };
}
