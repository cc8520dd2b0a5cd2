import {
  type LotEventDraft,
  type PluginContext,
  PluginError,
  stringAt,
} from "../../gateway/mod.ts";
import { type CommandReference, parseCommandDescription } from "./command_reference.ts";
import type { Envelope } from "./envelope.ts";
import { batchAt, businessDate, defined, type Doc, numberAt, unitAt } from "./fields.ts";
import type { DynamicsOptions } from "./options.ts";

/**
 * Inventory adjustment journals: posted (the answer to a command D365 carried out, or any other
 * adjustment) and failed to post (a command D365 refused).
 *
 * @module
 */

type Context = PluginContext<DynamicsOptions>;

/** What the posting of a command's journal means for its lot. */
const POSTED: Record<CommandReference["commandType"], LotEventDraft["eventType"]> = {
  CREATE_LOT: "LOT_CREATED",
  RECEIVE_LOT: "LOT_RECEIVED",
  ADJUST_LOT: "LOT_ADJUSTED",
};

/** The journal line's lot, quantity (signed, as posted) and unit. */
function lineOf(doc: Doc, ctx: Context) {
  const lotId = batchAt(doc, "ItemBatchNumber");
  const material = stringAt(doc, "ItemNumber");
  const quantity = numberAt(doc, "InventoryQuantity");
  const { unit, uom } = unitAt(doc, "UnitSymbol", ctx.options.unitAliases);
  return {
    lotId,
    material,
    quantity,
    uom,
    unit,
    postingDate: businessDate(doc, "TransactionDate"),
  };
}

function commandOf(doc: Doc): CommandReference | undefined {
  const text = doc.JournalDescription;
  return typeof text === "string" ? parseCommandDescription(text) : undefined;
}

/**
 * A posted adjustment journal line: LOT_ADJUSTED with the signed quantity; when the journal's
 * description names a plantgate command, the event that command asked for (CREATE_LOT ->
 * LOT_CREATED, RECEIVE_LOT -> LOT_RECEIVED) with its correlationId.
 */
export function decodeJournal(env: Envelope, ctx: Context): LotEventDraft[] {
  const line = lineOf(env.doc, ctx);
  if (line.quantity === 0) return [];
  const command = commandOf(env.doc);
  return [{
    eventId: ctx.eventId(...env.keys, line.lotId),
    eventType: command ? POSTED[command.commandType] : "LOT_ADJUSTED",
    timestamp: env.timestamp,
    lotId: line.lotId,
    material: line.material,
    quantity: line.quantity,
    uom: line.uom,
    parents: [],
    ...(command?.correlationId ? { correlationId: command.correlationId } : {}),
    version: env.version,
    source: { documentId: env.documentId },
    payload: defined({
      ...env.audit,
      postingDate: line.postingDate,
      d365Unit: line.unit,
      commandId: command?.commandId,
      commandType: command?.commandType,
    }),
  }];
}

/**
 * A journal D365 could not post: COMMAND_REJECTED for the command its description names
 * (correlationId = the command id), `payload.reason` = D365's error message.
 */
export function decodeJournalFailure(env: Envelope, ctx: Context): LotEventDraft[] {
  const command = commandOf(env.doc);
  if (!command) {
    const value = env.doc.JournalDescription;
    throw new PluginError(
      value === undefined || value === null || value === ""
        ? 'field "JournalDescription" is missing: a refused journal must name its command'
        : `field "JournalDescription" names no plantgate command: ${JSON.stringify(value)}`,
      { field: "JournalDescription" },
    );
  }
  const reason = stringAt(env.doc, "ErrorMessage");
  const line = lineOf(env.doc, ctx);
  return [{
    eventId: ctx.eventId(...env.keys, line.lotId),
    eventType: "COMMAND_REJECTED",
    timestamp: env.timestamp,
    lotId: line.lotId,
    material: line.material,
    quantity: line.quantity,
    uom: line.uom,
    parents: [],
    correlationId: command.commandId,
    version: env.version,
    source: { documentId: env.documentId },
    payload: defined({
      ...env.audit,
      d365Unit: line.unit,
      commandType: command.commandType,
      reason,
    }),
  }];
}
