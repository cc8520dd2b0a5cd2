/**
 * An inbound goods movement SAP could not post: the MBGMCR IDoc in status 51 ("application
 * document not posted") with its status record, as the bridge passes it on. It is plantgate's
 * command coming back refused: the item text (ITEM_TEXT, MSEG-SGTXT) carries the command id.
 *
 * @module
 */
import { type LotEventDraft, PluginError } from "../../gateway/mod.ts";
import type { Scope } from "./decode.ts";
import { controlText, sapInstant, serverTimeZone } from "./document.ts";
import { type GoodsMovementIdoc, required } from "./idoc.ts";
import { readLine, UNREFERENCED } from "./line.ts";

/** IDoc status "application document not posted". */
const NOT_POSTED = "51";

/** The IDoc's current status: the control record's, else its latest status record's. */
function currentStatus(idoc: GoodsMovementIdoc): string | undefined {
  const last = idoc.statusRecords.at(-1)?.record;
  return controlText(idoc.control, "STATUS") ?? controlText(last, "STATUS");
}

/** An MBGMCR whose current status is 51: SAP refused to post it. */
export function isRejected(idoc: GoodsMovementIdoc): boolean {
  return idoc.kind === "MBGMCR" && currentStatus(idoc) === NOT_POSTED;
}

/** SAP message text with its variables: `&1`..`&4` by number, a bare `&` in turn. */
function messageText(template: string, params: (string | undefined)[]): string {
  let next = 0;
  return template
    .replace(/&(\d)|&/g, (_, n: string | undefined) => params[n ? Number(n) - 1 : next++] ?? "")
    .replace(/\s+/g, " ")
    .trim();
}

/** The status record that says why (the latest in status 51), its text and time. */
function statusOf(idoc: GoodsMovementIdoc, scope: Scope) {
  const found = idoc.statusRecords.findLast((s) => controlText(s.record, "STATUS") === NOT_POSTED);
  const path = found?.path ?? `${idoc.prefix}EDI_DS40`;
  const record = found?.record ?? {};
  const field = (key: string) => controlText(record, key);
  const template = field("STATXT");
  if (template === undefined) {
    throw new PluginError(
      `field "${path}.STATXT" is missing: a rejected IDoc must say why (its status 51 record)`,
      { field: `${path}.STATXT` },
    );
  }
  const params = [1, 2, 3, 4].map((n) => field(`STAPA${n}_LNG`) ?? field(`STAPA${n}`));
  const date = field("LOGDAT");
  const timestamp = date === undefined ? undefined : sapInstant(date, field("LOGTIM"), {
    timeZone: serverTimeZone(scope.ctx),
    datePath: `${path}.LOGDAT`,
    timePath: `${path}.LOGTIM`,
  });
  const message = Object.fromEntries(
    ["STATYP", "STAMID", "STAMNO", "LOGDAT", "LOGTIM"].flatMap((k) => {
      const value = field(k);
      return value === undefined ? [] : [[k, value]];
    }),
  );
  return { reason: messageText(template, params), timestamp, message };
}

/**
 * One COMMAND_REJECTED per item of a refused MBGMCR: the command's lot, material, quantity (a
 * write-off 551 is the negative ADJUST_LOT it came from) and unit; correlationId = the command
 * id from ITEM_TEXT; `payload.reason` = the status message with its variables filled in.
 */
export function decodeRejection(idoc: GoodsMovementIdoc, scope: Scope): LotEventDraft[] {
  const status = statusOf(idoc, scope);
  return idoc.items.flatMap((view, index) => {
    const line = readLine(view, { index, idoc, settings: scope.settings });
    if (!line) return [];
    const commandId = required(view, "SGTXT");
    const sign = UNREFERENCED[line.moveType]?.sign ?? 1;
    return [{
      eventId: scope.ctx.eventId("rejected", ...line.keys),
      eventType: "COMMAND_REJECTED" as const,
      timestamp: status.timestamp ?? scope.facts.timestamp,
      lotId: line.batch,
      material: line.material,
      quantity: sign * line.quantity,
      uom: line.uom,
      parents: [],
      correlationId: commandId,
      ...(scope.facts.version !== undefined ? { version: scope.facts.version } : {}),
      source: { documentId: line.documentId },
      payload: {
        ...scope.facts.payload,
        ...(status.timestamp ? { timestampFrom: "EDI_DS40.LOGDAT/LOGTIM" } : {}),
        items: [line.audit],
        reason: status.reason,
        status: { STATUS: NOT_POSTED, ...status.message },
      },
    }];
  });
}
