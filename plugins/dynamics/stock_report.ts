/**
 * D365's answer to a REPORT_LOTS: the OData response of the on-hand query (`value`: one row per
 * item, batch, site and warehouse) or D365's OData error, as the bridge publishes it with two
 * instance annotations of its own: `@plantgate.request` (the encoded command it ran, which names
 * the command and its selection) and `@plantgate.date` (the response's HTTP `Date` header).
 *
 * @module
 */
import {
  type LotEventDraft,
  objectAt,
  optionalStringAt,
  type PluginContext,
  PluginError,
  stringAt,
  toRec20,
} from "../../gateway/mod.ts";
import { batchAt, defined, type Doc, numberAt, show } from "./fields.ts";
import type { DynamicsOptions } from "./options.ts";

type Context = PluginContext<DynamicsOptions>;

/** The unit of events about the report as a whole (empty, refused): the one REPORT_LOTS has. */
const REPORT_UOM = "H87";
const REQUEST = "@plantgate.request";
const DATE = "@plantgate.date";
/** HTTP's IMF-fixdate, the only form a `Date` header is sent in (RFC 9110). */
const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** A stock report is recognised by the request the bridge echoes; a business event has none. */
export function isStockReport(body: unknown): boolean {
  return typeof body === "object" && body !== null && !Array.isArray(body) && REQUEST in body;
}

/** What every event of one report shares. */
interface Report {
  doc: Doc;
  commandId: string;
  selection: { material: string; lotId: string };
  timestamp: string;
  audit: Record<string, unknown>;
}

function responseTime(doc: Doc): string {
  const value = doc[DATE];
  const ms = typeof value === "string" && IMF_FIXDATE.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) {
    throw new PluginError(
      value === undefined
        ? `field "${DATE}" is missing: the report has no time`
        : `field "${DATE}" must be an HTTP date ("Wed, 15 Jul 2026 09:00:05 GMT"), got ${
          show(value)
        }`,
      { field: DATE },
    );
  }
  return new Date(ms).toISOString();
}

function readReport(body: unknown): Report {
  const doc = objectAt(body, "(response)");
  const request = objectAt(doc[REQUEST], REQUEST);
  const commandId = stringAt(request, "commandId", REQUEST);
  const selection = request.selection === undefined
    ? {}
    : objectAt(request.selection, `${REQUEST}.selection`);
  const path = `${REQUEST}.selection`;
  return {
    doc,
    commandId,
    selection: {
      material: optionalStringAt(selection, "ItemNumber", path) ?? "*",
      lotId: optionalStringAt(selection, "ItemBatchNumber", path) ?? "*",
    },
    timestamp: responseTime(doc),
    audit: defined({ responseDate: doc[DATE], odataContext: doc["@odata.context"] }),
  };
}

/** The bridge must publish the whole report: no next page, and as many rows as `@odata.count`. */
function rowsOf(doc: Doc): Doc[] {
  if (doc["@odata.nextLink"] !== undefined) {
    throw new PluginError(
      'field "@odata.nextLink" is set: the bridge must follow it and publish the whole report',
      { field: "@odata.nextLink" },
    );
  }
  if (!Array.isArray(doc.value)) {
    throw new PluginError(
      `field "value" must be an array of on-hand rows, got ${show(doc.value)}`,
      {
        field: "value",
      },
    );
  }
  const rows = doc.value.map((row, i) => objectAt(row, `value[${i}]`));
  const count = doc["@odata.count"];
  if (count !== undefined && count !== rows.length) {
    throw new PluginError(
      `field "@odata.count" is ${
        show(count)
      } but "value" holds ${rows.length} rows: an incomplete report`,
      { field: "@odata.count" },
    );
  }
  return rows;
}

function common(report: Report, key: number | string, ctx: Context) {
  return {
    eventId: ctx.eventId("onhand-report", report.commandId, key),
    timestamp: report.timestamp,
    parents: [],
    correlationId: report.commandId,
    source: { documentId: `${report.commandId}/${key}` },
  };
}

/** One LOT_STOCK_REPORTED per on-hand row, numbered in response order; no rows: one "*". */
function decodeRows(report: Report, ctx: Context): LotEventDraft[] {
  const rows = rowsOf(report.doc);
  if (rows.length === 0) {
    return [{
      ...common(report, 0, ctx),
      eventType: "LOT_STOCK_REPORTED",
      lotId: "*",
      material: "*",
      quantity: 0,
      uom: REPORT_UOM,
      payload: { ...report.audit, lines: 0 },
    }];
  }
  return rows.map((row, i) => {
    const path = `value[${i}]`;
    const unit = stringAt(row, "InventoryUnitSymbol", path);
    const field = `${path}.InventoryUnitSymbol`;
    return {
      ...common(report, i + 1, ctx),
      eventType: "LOT_STOCK_REPORTED",
      lotId: batchAt(row, "ItemBatchNumber", path),
      material: stringAt(row, "ItemNumber", path),
      quantity: numberAt(row, "OnHandQuantity", path),
      uom: toRec20(unit, field, ctx.options.unitAliases ?? {}),
      payload: defined({
        ...report.audit,
        legalEntity: optionalStringAt(row, "dataAreaId", path),
        siteId: optionalStringAt(row, "InventorySiteId", path),
        warehouseId: optionalStringAt(row, "InventoryWarehouseId", path),
        d365Unit: unit,
        line: i + 1,
        lines: rows.length,
      }),
    };
  });
}

/** D365 refused the query: COMMAND_REJECTED for the selection, the infolog text as reason. */
function decodeError(report: Report, ctx: Context): LotEventDraft[] {
  const error = objectAt(report.doc.error, "error");
  const inner = error.innererror === undefined || error.innererror === null
    ? {}
    : objectAt(error.innererror, "error.innererror");
  const reason = optionalStringAt(inner, "message", "error.innererror") ??
    stringAt(error, "message", "error");
  return [{
    ...common(report, "rejected", ctx),
    eventType: "COMMAND_REJECTED",
    lotId: report.selection.lotId,
    material: report.selection.material,
    quantity: 0,
    uom: REPORT_UOM,
    payload: defined({
      ...report.audit,
      reason,
      errorCode: optionalStringAt(error, "code", "error"),
      errorType: optionalStringAt(inner, "type", "error.innererror"),
    }),
  }];
}

/**
 * The bridge's publication of a REPORT_LOTS answer -> LOT_STOCK_REPORTED per on-hand row
 * (correlationId = the command id), or COMMAND_REJECTED for an OData error.
 */
export function decodeStockReport(body: unknown, ctx: Context): LotEventDraft[] {
  const report = readReport(body);
  return report.doc.error !== undefined ? decodeError(report, ctx) : decodeRows(report, ctx);
}
