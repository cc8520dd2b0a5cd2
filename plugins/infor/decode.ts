import { type LotEventDraft, type PluginContext, PluginError } from "../../gateway/mod.ts";
import { decodeAcknowledge } from "./acknowledge.ts";
import { type Bod, elements, readBod } from "./bod.ts";
import { type Mapped, type NounResult, NOUNS } from "./nouns.ts";
import type { InforOptions } from "./options.ts";
import { decodeStockReport } from "./stock_report.ts";

function draft(
  m: Mapped,
  doc: NounResult,
  bod: Bod,
  ctx: PluginContext<InforOptions>,
): LotEventDraft {
  const reversal = bod.action === "delete" || doc.cancelled;
  const { line } = m;
  return {
    // The BODID carries document, revision and variationID: a re-send keeps it, a Replace or
    // Delete gets a new one. The actionCode guards bridges that reuse a BODID across actions.
    eventId: ctx.eventId(bod.bodId, bod.actionCode, doc.documentId, line.lineNumber, line.lot),
    eventType: reversal ? "LOT_REVERSED" : m.eventType,
    timestamp: bod.timestamp,
    lotId: line.lot,
    material: line.material,
    quantity: m.quantity,
    uom: line.uom,
    parents: reversal ? [] : m.parents,
    ...(m.correlationId ? { correlationId: m.correlationId } : {}),
    ...(m.destination && !reversal ? { destination: m.destination } : {}),
    ...(bod.variationId !== undefined ? { version: bod.variationId } : {}),
    source: { documentId: `${doc.documentId}/${line.lineNumber}` },
    payload: {
      ...bod.audit,
      ...doc.audit,
      ...line.audit,
      ...m.audit,
      ...(reversal ? { reverses: m.eventType } : {}),
    },
  };
}

/**
 * An ION BOD rendered as JSON -> canonical lot events: Sync BODs report lot movements,
 * Acknowledge BODs answer plantgate's commands, ShowInventoryBalance its stock reports. See plugins/infor/README.md for the accepted
 * shapes and the noun/verb/actionCode mapping.
 */
export function decodeInfor(body: unknown, ctx: PluginContext<InforOptions>): LotEventDraft[] {
  const bod = readBod(body, ctx.timeZone);
  if (bod.verb === "Acknowledge") return decodeAcknowledge(bod, ctx);
  if (bod.verb === "Show") return decodeStockReport(bod, ctx);
  const read = Object.hasOwn(NOUNS, bod.noun) ? NOUNS[bod.noun] : undefined;
  if (!read) {
    throw new PluginError(
      `BOD noun "${bod.noun}" (root "${bod.root}") is not mapped (supported: ${
        Object.keys(NOUNS).join(", ")
      })`,
      { field: "(root)", code: "plugin_unsupported" },
    );
  }
  const events: LotEventDraft[] = [];
  for (const { node, path } of elements(bod.dataArea, bod.noun, `${bod.root}.DataArea`)) {
    const doc = read(node, path, ctx.options);
    for (const m of doc.mapped) events.push(draft(m, doc, bod, ctx));
  }
  return events;
}
