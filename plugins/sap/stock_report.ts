/**
 * SAP's answer to a REPORT_LOTS, as the RFC bridge publishes it once the RMCPAMRP job is over:
 * the job (`RMCPAMRP.JOB`: TBTCO's JOBNAME, JOBCOUNT, STATUS, ENDDATE, ENDTIME), its log when it
 * was cancelled (`RMCPAMRP.JOBLOG`), the LOISTD01 IDocs it sent (`LOISTD01.IDOC`, one per
 * material and plant), and the command it ran for (`plantgate`, the request's block echoed).
 * The batch stock lines of the stock/requirements lists are the report.
 *
 * @module
 */
import {
  listAt,
  type LotEventDraft,
  objectAt,
  optionalStringAt,
  type PluginContext,
  PluginError,
  quantityAt,
  stringAt,
  toRec20,
  unpad,
} from "../../gateway/mod.ts";
import { sapInstant, serverTimeZone } from "./document.ts";
import { upperKeys } from "./idoc.ts";
import type { SapOptions } from "./options.ts";

type Obj = Record<string, unknown>;
type Context = PluginContext<SapOptions>;

/** The unit of events about the report as a whole (empty, refused): the one REPORT_LOTS has. */
const REPORT_UOM = "H87";
/** MRP elements of batch stock: at plant level (CH), per storage location (LC). */
const BATCH_STOCK = new Set(["CH", "LC"]);

/** The top-level part named `name` (any case), or undefined. */
function part(doc: Obj, name: string): unknown {
  const key = Object.keys(doc).find((k) => k.toUpperCase() === name);
  return key === undefined ? undefined : doc[key];
}

/** A bridge's stock report carries the RMCPAMRP job; a goods-movement IDoc never does. */
export function isStockReport(body: unknown): boolean {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return false;
  return part(body as Obj, "RMCPAMRP") !== undefined;
}

/** The job, the command and the report's time. */
interface Report {
  doc: Obj;
  job: Record<string, string>;
  commandId: string;
  lotId: string;
  material: string;
  timestamp: string;
}

function readReport(body: unknown, ctx: Context): Report {
  const doc = objectAt(body, "(document)");
  const run = objectAt(upperKeys(part(doc, "RMCPAMRP")), "RMCPAMRP");
  const job = objectAt(run.JOB, "RMCPAMRP.JOB");
  const field = (key: string) => stringAt(job, key, "RMCPAMRP.JOB");
  const echo = objectAt(part(doc, "PLANTGATE"), "plantgate");
  const timestamp = sapInstant(field("ENDDATE"), field("ENDTIME"), {
    timeZone: serverTimeZone(ctx),
    datePath: "RMCPAMRP.JOB.ENDDATE",
    timePath: "RMCPAMRP.JOB.ENDTIME",
  });
  return {
    doc,
    job: Object.fromEntries(
      ["JOBNAME", "JOBCOUNT", "STATUS", "ENDDATE", "ENDTIME"].map((k) => [k, field(k)]),
    ),
    commandId: stringAt(echo, "commandId", "plantgate"),
    lotId: optionalStringAt(echo, "lotId", "plantgate") ?? "*",
    material: optionalStringAt(echo, "material", "plantgate") ?? "*",
    timestamp,
  };
}

/** One batch stock line of a LOISTD01 IDoc. */
interface StockLine {
  lotId: string;
  material: string;
  quantity: number;
  uom: string;
  audit: Record<string, unknown>;
}

function list(record: Obj, key: string, path: string): { node: Obj; path: string }[] {
  const value = record[key];
  if (value === undefined || value === null || value === "") return [];
  return listAt(value, `${path}.${key}`).map((node, i) => ({
    node,
    path: Array.isArray(value) ? `${path}.${key}[${i}]` : `${path}.${key}`,
  }));
}

/** The batch stock lines of one material's stock/requirements list (E1MDSTL). */
function stockLines(stock: Obj, path: string, idoc: Record<string, unknown>, ctx: Context) {
  const material = unpad(stringAt(stock, "MATNR", path)).toUpperCase();
  const lines: StockLine[] = [];
  const kinds = new Set<string>();
  for (const segment of list(stock, "E1PLSEL", path)) {
    for (const element of list(segment.node, "E1MDPSL", segment.path)) {
      const kind = optionalStringAt(element.node, "DELKZ", element.path)?.toUpperCase();
      if (!kind || !BATCH_STOCK.has(kind)) continue;
      kinds.add(kind);
      if (kinds.size > 1) {
        const field = `${element.path}.DELKZ`;
        throw new PluginError(
          `field "${field}": batch stock (CH) and batch/storage location stock (LC) in one list would count the same stock twice`,
          { field },
        );
      }
      const quantity = quantityAt(element.node, "MNG01", element.path);
      const unit = stringAt(stock, "MEINS", path);
      const fields = {
        MATNR: stringAt(stock, "MATNR", path),
        WERKS: optionalStringAt(stock, "WERKS", path),
        LGORT: optionalStringAt(segment.node, "LGORT", segment.path),
        DELKZ: kind,
        CHARG: stringAt(element.node, "CHARG", element.path),
        MNG01: String(element.node.MNG01),
        MEINS: unit,
      };
      lines.push({
        lotId: fields.CHARG.toUpperCase(),
        material,
        quantity,
        uom: toRec20(unit, `${path}.MEINS`, ctx.options?.unitAliases ?? {}),
        audit: { idoc, stock: Object.fromEntries(Object.entries(fields).filter(([, v]) => v)) },
      });
    }
  }
  return lines;
}

/** Every batch stock line of the IDocs the job sent, in IDoc order. */
function readLines(report: Report, ctx: Context): StockLine[] {
  const idocs = part(report.doc, "LOISTD01");
  if (idocs === undefined || idocs === null || idocs === "") return [];
  const root = objectAt(upperKeys(idocs), "LOISTD01");
  return list(root, "IDOC", "LOISTD01").flatMap(({ node, path }) => {
    const control = node.EDI_DC40 === undefined ? {} : objectAt(node.EDI_DC40, `${path}.EDI_DC40`);
    const idoc = Object.fromEntries(
      ["DOCNUM", "IDOCTYP", "MESTYP", "CREDAT", "CRETIM"].flatMap((k) => {
        const value = optionalStringAt(control, k, `${path}.EDI_DC40`);
        return value === undefined ? [] : [[k, value]];
      }),
    );
    return list(node, "E1MDSTL", path).flatMap((s) => stockLines(s.node, s.path, idoc, ctx));
  });
}

function common(report: Report, key: number | string, ctx: Context) {
  const { JOBNAME, JOBCOUNT } = report.job;
  return {
    eventId: ctx.eventId("RMCPAMRP", JOBNAME, JOBCOUNT, key),
    timestamp: report.timestamp,
    parents: [],
    correlationId: report.commandId,
    source: { documentId: `JOB ${JOBNAME}/${JOBCOUNT}/${key}` },
    payload: { job: report.job, timestampFrom: "RMCPAMRP.JOB.ENDDATE/ENDTIME" },
  };
}

/**
 * The lines of the batch and material the command asked for (RMCPAMRP selects no batch, so the
 * plugin filters), one LOT_STOCK_REPORTED each; none: one event for lot and material "*".
 */
function decodeLines(report: Report, ctx: Context): LotEventDraft[] {
  const material = unpad(report.material).toUpperCase();
  const lines = readLines(report, ctx).filter((l) =>
    (report.lotId === "*" || l.lotId === report.lotId.toUpperCase()) &&
    (report.material === "*" || l.material === material)
  );
  if (lines.length === 0) {
    const { payload, ...fields } = common(report, 0, ctx);
    const empty = { lotId: "*", material: "*", quantity: 0, uom: REPORT_UOM };
    return [{
      ...fields,
      eventType: "LOT_STOCK_REPORTED",
      ...empty,
      payload: { ...payload, lines: 0 },
    }];
  }
  return lines.map((line, i) => {
    const { payload, ...fields } = common(report, i + 1, ctx);
    const { audit, ...stock } = line;
    return {
      ...fields,
      eventType: "LOT_STOCK_REPORTED",
      ...stock,
      payload: { ...payload, ...audit, line: i + 1, lines: lines.length },
    };
  });
}

/** A cancelled job: COMMAND_REJECTED for the command's selection, the log's error as reason. */
function decodeCancelled(report: Report, ctx: Context): LotEventDraft[] {
  const run = objectAt(upperKeys(part(report.doc, "RMCPAMRP")), "RMCPAMRP");
  const log = list(run, "JOBLOG", "RMCPAMRP");
  const severity = (type: string) =>
    log.find((e) => String(e.node.MSGTYPE ?? "").toUpperCase() === type);
  const entry = severity("E") ?? severity("A") ?? severity("X");
  if (!entry) {
    throw new PluginError(
      'field "RMCPAMRP.JOBLOG" has no error message: a cancelled job must say why',
      { field: "RMCPAMRP.JOBLOG" },
    );
  }
  const { payload, ...fields } = common(report, "rejected", ctx);
  return [{
    ...fields,
    eventType: "COMMAND_REJECTED",
    lotId: report.lotId,
    material: report.material,
    quantity: 0,
    uom: REPORT_UOM,
    payload: {
      ...payload,
      reason: stringAt(entry.node, "TEXT", entry.path),
      message: Object.fromEntries(
        ["MSGTYPE", "MSGID", "MSGNO", "ENTERDATE", "ENTERTIME"].flatMap((k) => {
          const value = optionalStringAt(entry.node, k, entry.path);
          return value === undefined ? [] : [[k, value]];
        }),
      ),
    },
  }];
}

/**
 * The bridge's publication of an RMCPAMRP job -> the stock report's LOT_STOCK_REPORTED events
 * (job finished, status F) or COMMAND_REJECTED (job cancelled, status A).
 */
export function decodeStockReport(body: unknown, ctx: Context): LotEventDraft[] {
  const report = readReport(body, ctx);
  switch (report.job.STATUS.toUpperCase()) {
    case "F":
      return decodeLines(report, ctx);
    case "A":
      return decodeCancelled(report, ctx);
    default:
      throw new PluginError(
        `field "RMCPAMRP.JOB.STATUS" is "${report.job.STATUS}": the job is not over (F finished, A cancelled)`,
        { field: "RMCPAMRP.JOB.STATUS" },
      );
  }
}
