/**
 * How the simulated Infor LN answers a GetInventoryBalance (REPORT_LOTS): a
 * ShowInventoryBalance with one `InventoryBalance` per lot it holds that matches the Get's
 * selection, the Get's ApplicationArea as `OriginalApplicationArea` and the whole report in one
 * BOD (`recordSetTotal`, `recordSetCompleteIndicator`); refused, the same Show with
 * `ResponseExpression/@actionCode="Rejected"`, the reason and the Get's selection.
 *
 * @module
 */
import type { ErpSimulator, StockLine } from "../../gateway/mod.ts";
import { ENTITY, sender, TENANT } from "./bod_render.ts";

type Obj = Record<string, unknown>;
type Decision = Parameters<NonNullable<ErpSimulator["answer"]>>[1];
type AnswerContext = Parameters<NonNullable<ErpSimulator["answer"]>>[2];

/** The parts of a GetInventoryBalance the answer uses. */
interface Get {
  applicationArea: Obj & { BODID: string };
  selection: { Item?: { ItemID: { ID: string } }; Lot?: { LotIDs: { ID: string } } };
}

function read(get: unknown): Get {
  const bod = get as { ApplicationArea?: Get["applicationArea"]; DataArea?: Obj };
  if (!bod?.ApplicationArea?.BODID || !bod.DataArea) {
    throw new TypeError("not a GetInventoryBalance BOD (see encode.ts)");
  }
  return {
    applicationArea: bod.ApplicationArea,
    selection: (bod.DataArea.InventoryBalance ?? {}) as Get["selection"],
  };
}

/** The lots matching the Get's selection (its item and lot, when it names them). */
function selected(stock: readonly StockLine[], { selection }: Get): StockLine[] {
  const item = selection.Item?.ItemID.ID;
  const lot = selection.Lot?.LotIDs.ID;
  return stock.filter((s) => (!item || s.material === item) && (!lot || s.lotId === lot));
}

/** One InventoryBalance: item, lot and the quantity on hand in its Rec 20 unit. */
function balance(line: StockLine): Obj {
  return {
    Item: { ItemID: { ID: line.material } },
    Lot: { LotIDs: { ID: line.lotId } },
    Quantity: { "@unitCode": line.uom, "#text": String(line.quantity) },
  };
}

/**
 * LN's Show for a Get: the matching lots of `ctx.stock` (accepted), or the rejection with the
 * reason. Its BODID is the Get's with verb Show and a sequence, as for an Acknowledge.
 */
export function showStock(get: unknown, decision: Decision, ctx: AnswerContext): unknown {
  const req = read(get);
  const lines = decision.accept ? selected(ctx.stock ?? [], req) : [];
  const response = decision.accept ? { ResponseExpression: { "@actionCode": "Accepted" } } : {
    ResponseExpression: { "@actionCode": "Rejected" },
    ChangeStatus: { Code: "Rejected", ReasonCode: "ERR", Reason: decision.reason },
  };
  const nouns = decision.accept ? lines.map(balance) : [req.selection];
  return {
    ShowInventoryBalance: {
      "@xmlns": "http://schema.infor.com/InforOAGIS/2",
      "@releaseID": "9.2",
      ApplicationArea: {
        Sender: sender(ctx),
        CreationDateTime: ctx.at.toISOString(),
        BODID: `${req.applicationArea.BODID.replace("verb=Get", "verb=Show")}&sequence=1`,
      },
      DataArea: {
        Show: {
          ...(decision.accept
            ? { "@recordSetTotal": String(lines.length), "@recordSetCompleteIndicator": "true" }
            : {}),
          TenantID: TENANT,
          AccountingEntityID: ENTITY,
          LocationID: ctx.plantId,
          OriginalApplicationArea: req.applicationArea,
          ResponseCriteria: response,
        },
        // One element for one balance, an array for several, none for an empty report.
        ...(nouns.length ? { InventoryBalance: nouns.length === 1 ? nouns[0] : nouns } : {}),
      },
    },
  };
}
