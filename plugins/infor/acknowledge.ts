import {
  type LotEventDraft,
  objectAt,
  type PluginContext,
  PluginError,
} from "../../gateway/mod.ts";
import { type Bod, defined, elements, parseBodId, textAt, walk } from "./bod.ts";
import { readHeader, readLine } from "./noun_lines.ts";
import type { InforOptions } from "./options.ts";

/**
 * Infor's answer to a Process BOD plantgate sent (a command): `Acknowledge<Noun>` with the
 * original ApplicationArea and `ResponseExpression/@actionCode` Accepted or Rejected. ION keeps
 * the ConfirmBOD of a failure to itself; the sender of a Process BOD gets the Acknowledge.
 *
 * @module
 */

/** The nouns plantgate's commands are sent as, and where their lines and quantities are. */
const COMMAND_NOUNS: Readonly<Record<string, { line: string; quantity: string }>> = {
  InventoryAdjustment: { line: "InventoryAdjustmentLine", quantity: "Quantity" },
  ReceiveDelivery: { line: "ReceiveDeliveryItem", quantity: "ReceivedQuantity" },
};

/**
 * The command a response (the Acknowledge or Show verb element at `path`) answers: the
 * document id in its original BODID.
 */
export function commandIdOf(response: Record<string, unknown>, path: string): string {
  const field = `${path}.OriginalApplicationArea.BODID`;
  const original = textAt(response, path, ["OriginalApplicationArea", "BODID"]);
  if (original === undefined) {
    throw new PluginError(`field "${field}" is missing: a response names the BOD it answers`, {
      field,
    });
  }
  const commandId = parseBodId(original).documentId;
  if (commandId === undefined) {
    throw new PluginError(`field "${field}" is not an infor-nid BODID: "${original}"`, { field });
  }
  return commandId;
}

/** Why: `ResponseCriteria/ChangeStatus/Reason` (else its `Description`) and its ReasonCode. */
export function reasonOf(response: Record<string, unknown>, path: string) {
  const status = walk(response, path, ["ResponseCriteria", "ChangeStatus"]);
  const reason = textAt(status.value, status.path, ["Reason"]) ??
    textAt(status.value, status.path, ["Description"]);
  if (reason === undefined) {
    const field = `${status.path}.Reason`;
    throw new PluginError(`field "${field}" is missing: a rejection must say why`, { field });
  }
  return { reason, reasonCode: textAt(status.value, status.path, ["ReasonCode"]) };
}

/**
 * An Acknowledge BOD -> COMMAND_REJECTED per line of the rejected document (lot, quantity and
 * unit as sent, correlationId = the command id); an accepted one -> no event (the Sync of the
 * posted document reports the lot).
 */
export function decodeAcknowledge(bod: Bod, ctx: PluginContext<InforOptions>): LotEventDraft[] {
  if (bod.action !== "rejected") return [];
  const spec = Object.hasOwn(COMMAND_NOUNS, bod.noun) ? COMMAND_NOUNS[bod.noun] : undefined;
  if (!spec) {
    throw new PluginError(
      `"${bod.root}" answers no plantgate command (they are sent as ${
        Object.keys(COMMAND_NOUNS).join(", ")
      })`,
      { field: "(root)", code: "plugin_unsupported" },
    );
  }
  const path = `${bod.root}.DataArea.Acknowledge`;
  const acknowledge = objectAt(bod.dataArea.Acknowledge, path);
  const commandId = commandIdOf(acknowledge, path);
  const { reason, reasonCode } = reasonOf(acknowledge, path);
  return elements(bod.dataArea, bod.noun, `${bod.root}.DataArea`).flatMap((doc) => {
    const head = readHeader(doc.node, doc.path, `${bod.noun}Header`);
    return elements(doc.node, spec.line, doc.path).map((e, i) => {
      const line = readLine(e.node, e.path, i, spec.quantity, ctx.options);
      return {
        eventId: ctx.eventId(bod.bodId, bod.actionCode, commandId, line.lineNumber, line.lot),
        eventType: "COMMAND_REJECTED" as const,
        timestamp: bod.timestamp,
        lotId: line.lot,
        material: line.material,
        quantity: line.quantity,
        uom: line.uom,
        parents: [],
        correlationId: commandId,
        ...(bod.variationId !== undefined ? { version: bod.variationId } : {}),
        source: { documentId: `${head.documentId}/${line.lineNumber}` },
        payload: defined({
          ...bod.audit,
          ...head.audit,
          ...line.audit,
          originalBodId: textAt(acknowledge, path, ["OriginalApplicationArea", "BODID"]),
          reason,
          reasonCode,
        }),
      };
    });
  });
}
