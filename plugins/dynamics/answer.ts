/**
 * How the simulated D365 answers a command (the OData requests from `encode`): the bridge
 * creates the adjustment journal, D365 posts it and raises the site's journal business event:
 * posted, or failed with the error D365 reported. Both carry the journal's description, which
 * names the command. A REPORT_LOTS is answered by its on-hand query (`stock_answer.ts`).
 *
 * @module
 */
import type { ErpSimulator } from "../../gateway/mod.ts";
import { businessEvent, dateField, pad } from "./business_event.ts";
import { answerStockRequest } from "./stock_answer.ts";

type Doc = Record<string, unknown>;
type Decision = Parameters<NonNullable<ErpSimulator["answer"]>>[1];

/** The parts of an encoded command the answer uses. */
interface Encoded {
  unitSymbol: string;
  requests: { entitySet: string; body: Doc }[];
}

function requestBody(command: Encoded, entitySet: string): Doc {
  const found = command.requests?.find((r) => r.entitySet === entitySet);
  if (!found) throw new TypeError(`not an encoded D365 command: no ${entitySet} request`);
  return found.body;
}

/**
 * D365's answer to an encoded command: the adjustment journal's posted event (accepted) or its
 * posting-failed event with D365's error message (rejected), for journal `IAJ-<docNo>`.
 */
export function answer(
  command: unknown,
  decision: Decision,
  ctx: Parameters<NonNullable<ErpSimulator["answer"]>>[2],
): unknown {
  if ((command as { commandType?: string })?.commandType === "REPORT_LOTS") {
    return answerStockRequest(command, decision, ctx);
  }
  const encoded = command as Encoded;
  const header = requestBody(encoded, "InventoryAdjustmentJournalHeaders");
  const line = requestBody(encoded, "InventoryAdjustmentJournalEntriesV2");
  const fields: Doc = {
    InventoryQuantity: line.InventoryQuantity,
    ItemBatchNumber: line.ItemBatchNumber,
    JournalDescription: header.Description,
    JournalLineNumber: line.LineNumber ?? 1,
    JournalNumber: `IAJ-${pad(ctx.docNo)}`,
    SiteId: line.InventorySiteId ?? header.DefaultInventorySiteId ?? "1",
    TransactionDate: dateField(ctx.at, ctx.timeZone),
    UnitSymbol: encoded.unitSymbol,
    WarehouseId: line.InventoryWarehouseId ?? header.DefaultWarehouseId ?? "RM",
  };
  const raised = {
    kind: decision.accept ? "journal-posted" : "journal-failed",
    docNo: ctx.docNo,
    at: ctx.at,
    material: String(line.ItemNumber),
    uom: "",
  };
  return decision.accept
    ? businessEvent(raised, ctx, "adjustment-journal", {
      ...fields,
      VoucherNumber: `IAV-${pad(ctx.docNo)}`,
    })
    : businessEvent(raised, ctx, "adjustment-journal-failed", {
      ...fields,
      ErrorMessage: decision.reason,
    });
}
