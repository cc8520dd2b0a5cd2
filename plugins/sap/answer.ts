/**
 * How the simulated SAP answers a command (a `BAPI_GOODSMVT_CREATE` request from `encode`):
 * posted, it writes the material document and sends it out as WMMBXY like any other goods
 * movement; refused, the request stays in SAP as an inbound MBGMCR IDoc in status 51 ("application
 * document not posted") with the status record saying why, which the bridge passes on. A
 * REPORT_LOTS is answered by the RMCPAMRP job it asked for (`stock_answer.ts`).
 *
 * @module
 */
import type { ErpSimulator } from "../../gateway/mod.ts";
import { controlRecord, wmmbxy } from "./idoc_render.ts";
import { sapLocal } from "./sap_format.ts";
import { answerStockRequest } from "./stock_answer.ts";

type Fields = Record<string, string>;
type AnswerContext = Parameters<NonNullable<ErpSimulator["answer"]>>[2];
type Decision = Parameters<NonNullable<ErpSimulator["answer"]>>[1];

/** The parts of an encoded command the answer uses. */
interface Request {
  header: Fields;
  code: string;
  item: Fields;
}

function request(command: unknown): Request {
  const bapi = (command as { BAPI_GOODSMVT_CREATE?: Record<string, unknown> })
    ?.BAPI_GOODSMVT_CREATE;
  const items = bapi?.GOODSMVT_ITEM;
  if (!bapi || !Array.isArray(items) || items.length !== 1) {
    throw new TypeError("not a BAPI_GOODSMVT_CREATE request with one item (see encode.ts)");
  }
  return {
    header: bapi.GOODSMVT_HEADER as Fields,
    code: (bapi.GOODSMVT_CODE as Fields).GM_CODE,
    item: items[0] as Fields,
  };
}

/** Goods issues (551 write-offs) are the credit side; every other command receives stock. */
function isIssue(moveType: string): boolean {
  return moveType === "551";
}

/** The posted material document as WMMBXY: the request's fields under their MSEG names. */
function posted({ header, item }: Request, ctx: AnswerContext): unknown {
  const issue = isIssue(item.MOVE_TYPE);
  const line = {
    MATNR: item.MATERIAL ?? item.MATERIAL_LONG,
    WERKS: item.PLANT,
    LGORT: item.STGE_LOC ?? (issue ? "FG01" : "RM01"),
    CHARG: item.BATCH,
    BWART: item.MOVE_TYPE,
    ...(item.MVT_IND ? { KZBEW: item.MVT_IND } : {}),
    SHKZG: issue ? "H" : "S",
    ...(item.ORDERID ? { AUFNR: item.ORDERID } : {}),
    ...(item.PO_NUMBER ? { EBELN: item.PO_NUMBER, EBELP: item.PO_ITEM } : {}),
    ...(item.MOVE_REAS ? { GRUND: item.MOVE_REAS } : {}),
    SGTXT: item.ITEM_TEXT,
    ERFMG: item.ENTRY_QNT,
    ERFME: item.ENTRY_UOM,
  };
  // Nine digits of the document number: answers numbered from 900,000,000 (the answering ERP's
  // default) stay apart from the traffic's documents, which render eight.
  const range = issue ? "4" : "5";
  return wmmbxy([line], {
    docNo: ctx.docNo,
    at: ctx.at,
    materialDocument: `${range}${String(ctx.docNo % 1_000_000_000).padStart(9, "0")}`,
    unit: item.ENTRY_UOM,
    header: {
      XBLNR: header.REF_DOC_NO ?? "",
      ...(header.BILL_OF_LADING ? { FRBNR: header.BILL_OF_LADING } : {}),
      BKTXT: header.HEADER_TXT ?? "",
      USNAM: "RFC_PLANTGATE",
      TCODE: "BAPI_GOODSMVT_CREATE",
    },
  }, ctx);
}

/**
 * A free-text reason as the four 50-character message variables of a status record (the text
 * field itself has 70), cut between words.
 */
function variables(reason: string): string[] {
  const parts = ["", "", "", ""];
  let i = 0;
  for (const word of reason.split(/\s+/).filter(Boolean)) {
    const joined = parts[i] ? `${parts[i]} ${word}` : word;
    if (joined.length <= 50 || !parts[i]) parts[i] = joined.slice(0, 50);
    else if (i < 3) parts[++i] = word.slice(0, 50);
    else break;
  }
  return parts;
}

/** The request as the inbound MBGMCR03 IDoc SAP keeps in status 51, with that status record. */
function refused(request: Request, reason: string, ctx: AnswerContext): unknown {
  const local = sapLocal(ctx.at, ctx.timeZone);
  const control = { type: "MBGMCR03", message: "MBGMCR", status: "51" };
  const docnum = String(ctx.docNo).padStart(16, "0");
  return {
    MBGMCR03: {
      IDOC: {
        "@BEGIN": "1",
        EDI_DC40: controlRecord({ ...control, docNo: ctx.docNo, at: ctx.at }, ctx),
        E1MBGMCR: {
          "@SEGMENT": "1",
          E1BP2017_GM_HEAD_01: { "@SEGMENT": "1", ...request.header },
          E1BP2017_GM_CODE: { "@SEGMENT": "1", GM_CODE: request.code },
          E1BP2017_GM_ITEM_CREATE: { "@SEGMENT": "1", ...request.item },
        },
        EDI_DS40: {
          TABNAM: "EDI_DS40",
          MANDT: "410",
          DOCNUM: docnum,
          LOGDAT: local.date,
          LOGTIM: local.time,
          STATUS: "51",
          UNAME: "ALEREMOTE",
          REPID: "SAPLMBGM",
          STATYP: "E",
          STATXT: "& & & &",
          ...Object.fromEntries(variables(reason).map((part, i) => [`STAPA${i + 1}_LNG`, part])),
        },
      },
    },
  };
}

/**
 * SAP's answer to an encoded command: accepted, the posted WMMBXY (XBLNR, FRBNR and the item
 * text as the request set them); refused, the MBGMCR IDoc in status 51 with the reason.
 */
export function answer(command: unknown, decision: Decision, ctx: AnswerContext): unknown {
  if (typeof command === "object" && command !== null && "RMCPAMRP" in command) {
    return answerStockRequest(command, decision, ctx);
  }
  const parsed = request(command);
  return decision.accept ? posted(parsed, ctx) : refused(parsed, decision.reason, ctx);
}
