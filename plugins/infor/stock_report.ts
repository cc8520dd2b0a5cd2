/**
 * Infor's answer to a REPORT_LOTS (a GetInventoryBalance plantgate sent): ShowInventoryBalance,
 * one `InventoryBalance` per item, location and lot, with the Get's ApplicationArea as
 * `OriginalApplicationArea`. Rejected (`ResponseExpression/@actionCode="Rejected"`), it carries
 * the reason like a rejecting Acknowledge does, and the Get's selection.
 *
 * @module
 */
import {
  type LotEventDraft,
  objectAt,
  type PluginContext,
  PluginError,
} from "../../gateway/mod.ts";
import { commandIdOf, reasonOf } from "./acknowledge.ts";
import { type Bod, defined, elements, textAt, textOf } from "./bod.ts";
import { readLine } from "./noun_lines.ts";
import type { InforOptions } from "./options.ts";

/** The unit of events about the report as a whole (empty, refused): the one REPORT_LOTS has. */
const REPORT_UOM = "H87";

/** What every event of one Show shares. */
interface Report {
  bod: Bod;
  commandId: string;
  /** The Show verb element and its path. */
  show: Record<string, unknown>;
  path: string;
}

function showOf(bod: Bod): Report {
  if (bod.noun !== "InventoryBalance") {
    throw new PluginError(
      `"${bod.root}" answers no plantgate request (stock reports are ShowInventoryBalance)`,
      { field: "(root)", code: "plugin_unsupported" },
    );
  }
  const path = `${bod.root}.DataArea.Show`;
  const raw = bod.dataArea.Show;
  const show = objectAt(raw === undefined || raw === null || raw === "" ? {} : raw, path);
  return { bod, commandId: commandIdOf(show, path), show, path };
}

/**
 * The Show must hold the whole report: a paged answer (`recordSetCompleteIndicator` false, or
 * fewer balances than `recordSetTotal`) would make the centre see lots as missing.
 */
function checkComplete(report: Report, count: number): void {
  const { show, path } = report;
  const complete = textOf(
    show["@recordSetCompleteIndicator"],
    `${path}.@recordSetCompleteIndicator`,
  );
  if (complete !== undefined && complete.toLowerCase() === "false") {
    const field = `${path}.@recordSetCompleteIndicator`;
    throw new PluginError(`field "${field}" is false: paged stock reports are not supported`, {
      field,
      code: "plugin_unsupported",
    });
  }
  const total = textOf(show["@recordSetTotal"], `${path}.@recordSetTotal`);
  if (total !== undefined && Number(total) !== count) {
    const field = `${path}.@recordSetTotal`;
    throw new PluginError(
      `field "${field}" says ${total} balances but the Show holds ${count}: an incomplete report`,
      { field },
    );
  }
}

/** The fields every event of the report has; `key` is the line (0: an empty report). */
function common(report: Report, key: number | string, ctx: PluginContext<InforOptions>) {
  const { bod, commandId, show, path } = report;
  const originalBodId = textAt(show, path, ["OriginalApplicationArea", "BODID"]);
  return {
    eventId: ctx.eventId(bod.bodId, bod.actionCode, "stock", key),
    timestamp: bod.timestamp,
    parents: [],
    correlationId: commandId,
    ...(bod.variationId !== undefined ? { version: bod.variationId } : {}),
    source: { documentId: `${commandId}/${key}` },
    audit: { ...bod.audit, originalBodId },
  };
}

/** One LOT_STOCK_REPORTED per InventoryBalance, numbered in document order; none: one "*". */
function decodeLines(report: Report, ctx: PluginContext<InforOptions>): LotEventDraft[] {
  const { bod } = report;
  const nodes = bod.dataArea.InventoryBalance === undefined
    ? []
    : elements(bod.dataArea, "InventoryBalance", `${bod.root}.DataArea`);
  checkComplete(report, nodes.length);
  if (nodes.length === 0) {
    const { audit, ...fields } = common(report, 0, ctx);
    return [{
      ...fields,
      eventType: "LOT_STOCK_REPORTED",
      lotId: "*",
      material: "*",
      quantity: 0,
      uom: REPORT_UOM,
      payload: { ...audit, lines: 0 },
    }];
  }
  return nodes.map((e, i) => {
    const line = readLine(e.node, e.path, i, "Quantity", ctx.options);
    const { lineNumber: _, ...lineAudit } = line.audit;
    const { audit, ...fields } = common(report, i + 1, ctx);
    return {
      ...fields,
      eventType: "LOT_STOCK_REPORTED",
      lotId: line.lot,
      material: line.material,
      quantity: line.quantity,
      uom: line.uom,
      payload: defined({ ...audit, ...lineAudit, line: i + 1, lines: nodes.length }),
    };
  });
}

/** A refused report: COMMAND_REJECTED for the selection the Get named ("*" where it named none). */
function decodeRefusal(report: Report, ctx: PluginContext<InforOptions>): LotEventDraft[] {
  const { bod, show, path } = report;
  const { reason, reasonCode } = reasonOf(show, path);
  const selection = bod.dataArea.InventoryBalance ?? {};
  const at = `${bod.root}.DataArea.InventoryBalance`;
  const { audit, ...fields } = common(report, "rejected", ctx);
  return [{
    ...fields,
    eventType: "COMMAND_REJECTED",
    lotId: textAt(selection, at, ["Lot", "LotIDs", "ID"]) ?? "*",
    material: textAt(selection, at, ["Item", "ItemID", "ID"]) ?? "*",
    quantity: 0,
    uom: REPORT_UOM,
    payload: defined({ ...audit, reason, reasonCode }),
  }];
}

/**
 * A ShowInventoryBalance -> the stock report's LOT_STOCK_REPORTED events (correlationId = the
 * command id from the original BODID), or COMMAND_REJECTED when Infor refused the Get.
 */
export function decodeStockReport(bod: Bod, ctx: PluginContext<InforOptions>): LotEventDraft[] {
  const report = showOf(bod);
  return bod.action === "rejected" ? decodeRefusal(report, ctx) : decodeLines(report, ctx);
}
