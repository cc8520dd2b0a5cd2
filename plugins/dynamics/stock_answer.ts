/**
 * How the simulated D365 answers a REPORT_LOTS (the on-hand query from `stock_request.ts`), as
 * the bridge publishes it: the OData response with one `WarehousesOnHandV2` row per batch it
 * holds that matches the selection, or D365's OData error; both with the bridge's
 * `@plantgate.request` and `@plantgate.date` annotations.
 *
 * @module
 */
import type { ErpSimulator, StockLine } from "../../gateway/mod.ts";
import { legalEntity } from "./business_event.ts";
import { d365UnitSymbol } from "./unit_symbols.ts";

type Doc = Record<string, unknown>;
type Decision = Parameters<NonNullable<ErpSimulator["answer"]>>[1];
type AnswerContext = Parameters<NonNullable<ErpSimulator["answer"]>>[2];

/** The parts of an encoded REPORT_LOTS the answer uses. */
interface Request {
  selection: { ItemNumber: string; ItemBatchNumber: string };
  requests: { entitySet: string; query: Record<string, string> }[];
}

/** The host the simulated environment's OData context URL names. */
const ENVIRONMENT = "https://plantgate-sim.operations.dynamics.com";

function selected(stock: readonly StockLine[], { selection }: Request): StockLine[] {
  const { ItemNumber: item, ItemBatchNumber: batch } = selection;
  return stock.filter((s) =>
    (item === "*" || s.material === item) && (batch === "*" || s.lotId === batch)
  );
}

/** One on-hand row: the entity's keys and quantity, and the site's batch and unit extension. */
function row(line: StockLine, ctx: AnswerContext): Doc {
  return {
    "@odata.etag": `W/"JzEsNTYzNzE0NDU3Nic="`,
    dataAreaId: legalEntity(ctx),
    ItemNumber: line.material,
    InventorySiteId: "1",
    InventoryWarehouseId: "RM",
    OnHandQuantity: line.quantity,
    ItemBatchNumber: line.lotId,
    InventoryUnitSymbol: d365UnitSymbol(line.uom),
  };
}

/**
 * D365's answer to the on-hand query: the rows of `ctx.stock` matching the selection (accepted),
 * or the OData error D365 returns with the reason in `innererror` (rejected).
 */
export function answerStockRequest(command: unknown, decision: Decision, ctx: AnswerContext) {
  const request = command as Request;
  const [query] = request.requests ?? [];
  if (!request.selection || !query) throw new TypeError("not an encoded REPORT_LOTS (see encode)");
  const bridge = { "@plantgate.request": command, "@plantgate.date": ctx.at.toUTCString() };
  if (!decision.accept) {
    return {
      error: {
        code: "",
        message: "An error has occurred.",
        innererror: {
          message: decision.reason,
          type: "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataException",
          stacktrace: "",
        },
      },
      ...bridge,
    };
  }
  const rows = selected(ctx.stock ?? [], request).map((line) => row(line, ctx));
  return {
    "@odata.context": `${ENVIRONMENT}/data/$metadata#${query.entitySet}(${query.query.$select})`,
    "@odata.count": rows.length,
    value: rows,
    ...bridge,
  };
}
