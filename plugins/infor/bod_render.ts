/**
 * Writing BODs as the simulated Infor LN system publishes them through ION, in the JSON an
 * ION-to-MQTT bridge makes of them: the envelope around one noun instance.
 *
 * @module
 */
import type { SimulationContext } from "../../gateway/mod.ts";

/** The tenant and accounting entity the simulated LN system publishes under. */
export const TENANT = "ACME_PRD";
export const ENTITY = "100";

/** One noun instance of a simulated BOD. */
export interface Document {
  noun: string;
  documentId: string;
  body: Record<string, unknown>;
}

/** LN's ApplicationArea `Sender`. */
export function sender(ctx: SimulationContext): Record<string, string> {
  return {
    LogicalID: `lid://infor.ln.${ctx.plantId.toLowerCase()}`,
    ComponentID: "erp",
    ConfirmationCode: "OnError",
  };
}

/** A Sync BOD of one document: BODID from its id, revision and variationID; the actionCode. */
export function envelope(
  doc: Document,
  ctx: SimulationContext,
  bod: { at: Date; actionCode: string; revision: number; variationId: number },
): Record<string, unknown> {
  const bodId = `infor-nid:${TENANT}:${ENTITY}:${ctx.plantId}:${doc.documentId}:${bod.revision}` +
    `?${doc.noun}&verb=Sync&variationID=${bod.variationId}`;
  return {
    [`Sync${doc.noun}`]: {
      "@xmlns": "http://schema.infor.com/InforOAGIS/2",
      "@releaseID": "9.2",
      "@versionID": "2.14.0",
      ApplicationArea: {
        Sender: sender(ctx),
        CreationDateTime: bod.at.toISOString(),
        BODID: bodId,
      },
      DataArea: {
        Sync: {
          TenantID: TENANT,
          AccountingEntityID: ENTITY,
          LocationID: ctx.plantId,
          ActionCriteria: { ActionExpression: { "@actionCode": bod.actionCode } },
        },
        [doc.noun]: doc.body,
      },
    },
  };
}
