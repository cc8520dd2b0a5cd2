/**
 * How the simulated SAP answers a REPORT_LOTS (the RMCPAMRP request from `stock_request.ts`),
 * as the RFC bridge publishes the job: finished, with one LOISTD01 IDoc per material (and unit)
 * whose stock/requirements list holds the batch stock lines (MRP element CH) of the lots it
 * holds; cancelled, with the job log saying why. RMCPAMRP selects plant and material only, so
 * every batch of a selected material is listed: the plugin keeps the batch the command asked.
 *
 * @module
 */
import type { ErpSimulator, StockLine } from "../../gateway/mod.ts";
import { controlRecord, pad } from "./idoc_render.ts";
import { sapLocal, sapUnit } from "./sap_format.ts";

type Obj = Record<string, unknown>;
type Decision = Parameters<NonNullable<ErpSimulator["answer"]>>[1];
type AnswerContext = Parameters<NonNullable<ErpSimulator["answer"]>>[2];

/** The parts of the encoded request the answer uses. */
interface Request {
  RMCPAMRP: { JOBNAME: string; WERKS_ST: { LOW: string }[]; MATNR_ST?: { LOW: string }[] };
  plantgate: Obj;
}

/** One object for one segment, an array for several (as the bridge renders XML). */
function one<T>(items: T[]): T | T[] {
  return items.length === 1 ? items[0] : items;
}

/** The lots of the selected materials, grouped per material and unit (one list each). */
function lists(stock: readonly StockLine[], request: Request): StockLine[][] {
  const material = request.RMCPAMRP.MATNR_ST?.[0]?.LOW;
  const groups = new Map<string, StockLine[]>();
  for (const line of stock) {
    if (material && pad(line.material, 18) !== material) continue;
    const key = `${line.material}\u0000${line.uom}`;
    groups.set(key, [...(groups.get(key) ?? []), line]);
  }
  return [...groups.values()];
}

/** One material's stock/requirements list as LOISTD01: stock totals, then its batch lines. */
function idoc(lines: StockLine[], n: number, plant: string, ctx: AnswerContext): Obj {
  const { date } = sapLocal(ctx.at, ctx.timeZone);
  const total = lines.reduce((sum, l) => sum + l.quantity, 0);
  const docNo = ctx.docNo * 100 + n;
  return {
    "@BEGIN": "1",
    EDI_DC40: controlRecord({
      type: "LOISTD01",
      message: "LOISTD",
      docNo,
      at: ctx.at,
      status: "30",
    }, ctx),
    E1MDSTL: {
      "@SEGMENT": "1",
      MATNR: pad(lines[0].material, 18),
      WERKS: plant,
      LABST: total.toFixed(3),
      INSME: "0.000",
      SPEME: "0.000",
      MEINS: sapUnit(lines[0].uom),
      E1PLSEL: {
        "@SEGMENT": "1",
        PLAAB: "02",
        E1MDPSL: one(lines.map((l) => ({
          "@SEGMENT": "1",
          DAT00: date,
          DELKZ: "CH",
          PLUMI: "+",
          MNG01: l.quantity.toFixed(3),
          CHARG: l.lotId,
        }))),
      },
    },
  };
}

/** The job as TBTCO has it: named after the command, numbered by `docNo`, over at `at`. */
function job(request: Request, status: "F" | "A", ctx: AnswerContext): Obj {
  const { date, time } = sapLocal(ctx.at, ctx.timeZone);
  return {
    JOBNAME: request.RMCPAMRP.JOBNAME,
    JOBCOUNT: String(ctx.docNo % 100_000_000).padStart(8, "0"),
    STATUS: status,
    STRTDATE: date,
    STRTTIME: time,
    ENDDATE: date,
    ENDTIME: time,
  };
}

/** SAP's answer to an RMCPAMRP request: the finished job and its IDocs, or the cancelled job. */
export function answerStockRequest(command: unknown, decision: Decision, ctx: AnswerContext) {
  const request = command as Request;
  if (!request?.RMCPAMRP?.JOBNAME || !request.plantgate) {
    throw new TypeError("not an RMCPAMRP request (see stock_request.ts)");
  }
  const { date, time } = sapLocal(ctx.at, ctx.timeZone);
  if (!decision.accept) {
    const log = (type: string, text: string) => ({
      ENTERDATE: date,
      ENTERTIME: time,
      MSGTYPE: type,
      TEXT: text,
    });
    return {
      RMCPAMRP: {
        JOB: job(request, "A", ctx),
        JOBLOG: [log("S", "Job started"), log("E", decision.reason), log("A", "Job cancelled")],
      },
      plantgate: request.plantgate,
    };
  }
  const plant = request.RMCPAMRP.WERKS_ST[0].LOW;
  const idocs = lists(ctx.stock ?? [], request).map((lines, n) => idoc(lines, n, plant, ctx));
  return {
    RMCPAMRP: { JOB: job(request, "F", ctx) },
    ...(idocs.length ? { LOISTD01: { IDOC: one(idocs) } } : {}),
    plantgate: request.plantgate,
  };
}
