/**
 * How the simulated Infor LN answers a command (the Process BOD from `encode`): it posts the
 * document and publishes it as a Sync BOD under the requester's document id, or rejects it with
 * an Acknowledge BOD whose BODID is the request's with verb Acknowledge and a sequence, carrying
 * the original ApplicationArea and the reason (Infor's rule for answering a Process BOD). A
 * GetInventoryBalance (REPORT_LOTS) is answered by a ShowInventoryBalance: see `stock_answer.ts`.
 *
 * @module
 */
import type { ErpSimulator, SimulationContext } from "../../gateway/mod.ts";
import { ENTITY, envelope, sender, TENANT } from "./bod_render.ts";
import { showStock } from "./stock_answer.ts";

type Obj = Record<string, unknown>;
type Decision = Parameters<NonNullable<ErpSimulator["answer"]>>[1];
type AnswerContext = Parameters<NonNullable<ErpSimulator["answer"]>>[2];

/** The parts of a Process BOD the answer uses. */
interface Request {
  noun: string;
  applicationArea: Obj & { BODID: string };
  document: Obj;
  documentId: string;
}

function request(command: unknown): Request {
  const root = Object.keys(command as Obj).find((k) => k.startsWith("Process"));
  if (!root) throw new TypeError("not a Process BOD (see encode.ts)");
  const noun = root.slice("Process".length);
  const bod = (command as Record<string, Obj>)[root];
  const document = (bod.DataArea as Obj)[noun] as Obj;
  const header = document[`${noun}Header`] as { DocumentID: { ID: string } };
  return {
    noun,
    applicationArea: bod.ApplicationArea as Request["applicationArea"],
    document,
    documentId: header.DocumentID.ID,
  };
}

/** LN writes whole seconds in document dates. */
function seconds(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The posted document, as LN publishes it: the request's document under its own id. */
function posted(req: Request, ctx: SimulationContext & { docNo: number; at: Date }): unknown {
  const headerKey = `${req.noun}Header`;
  const body = {
    ...req.document,
    [headerKey]: { ...(req.document[headerKey] as Obj), DocumentDateTime: seconds(ctx.at) },
  };
  const doc = { noun: req.noun, documentId: req.documentId, body };
  return envelope(doc, ctx, { at: ctx.at, actionCode: "Add", revision: 1, variationId: ctx.docNo });
}

/** The Acknowledge that rejects the request, with the request's document as sent. */
function rejected(req: Request, reason: string, ctx: SimulationContext & { at: Date }): unknown {
  return {
    [`Acknowledge${req.noun}`]: {
      "@xmlns": "http://schema.infor.com/InforOAGIS/2",
      "@releaseID": "9.2",
      ApplicationArea: {
        Sender: sender(ctx),
        CreationDateTime: ctx.at.toISOString(),
        BODID: `${req.applicationArea.BODID.replace("verb=Process", "verb=Acknowledge")}` +
          "&sequence=1",
      },
      DataArea: {
        Acknowledge: {
          TenantID: TENANT,
          AccountingEntityID: ENTITY,
          LocationID: ctx.plantId,
          OriginalApplicationArea: req.applicationArea,
          ResponseCriteria: {
            ResponseExpression: { "@actionCode": "Rejected" },
            ChangeStatus: { Code: "Rejected", ReasonCode: "ERR", Reason: reason },
          },
        },
        [req.noun]: req.document,
      },
    },
  };
}

/**
 * LN's answer to a Process BOD: the Sync of the posted document, or a rejecting Acknowledge; to
 * a Get BOD, the Show of the stock it holds.
 */
export function answer(command: unknown, decision: Decision, ctx: AnswerContext): unknown {
  if (typeof command === "object" && command !== null && "GetInventoryBalance" in command) {
    return showStock(command.GetInventoryBalance, decision, ctx);
  }
  const req = request(command);
  return decision.accept ? posted(req, ctx) : rejected(req, decision.reason, ctx);
}
