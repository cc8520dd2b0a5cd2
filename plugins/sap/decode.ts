import {
  type LotEventDraft,
  type ParentLot,
  type PluginContext,
  PluginError,
} from "../../gateway/mod.ts";
import { type DocumentFacts, documentFacts } from "./document.ts";
import { type GoodsMovementIdoc, locateIdocs, pathOf, required, text } from "./idoc.ts";
import {
  type Line,
  readLine,
  REVERSALS,
  type Settings,
  settingsOf,
  SHIPMENTS,
  UNREFERENCED,
} from "./line.ts";
import type { SapOptions } from "./options.ts";
import { decodeRejection, isRejected } from "./rejection.ts";
import { decodeStockReport, isStockReport } from "./stock_report.ts";

/**
 * SAP goods movements (IDoc WMMBXY or MBGMCR rendered as JSON) -> canonical lot event drafts;
 * an inbound MBGMCR that SAP could not post (status 51) -> COMMAND_REJECTED; the RMCPAMRP job
 * of a REPORT_LOTS -> its stock report. Mapping and key choices: plugins/sap/README.md.
 */
export function decodeSap(body: unknown, ctx: PluginContext<SapOptions>): LotEventDraft[] {
  if (isStockReport(body)) return decodeStockReport(body, ctx);
  const settings = settingsOf(ctx);
  return locateIdocs(body).flatMap((idoc) => {
    if (idoc.testRun) return [];
    const scope = { ctx, settings, facts: documentFacts(idoc, ctx) };
    return isRejected(idoc) ? decodeRejection(idoc, scope) : decodeIdoc(idoc, scope);
  });
}

/** What the events of one IDoc are built with. */
export interface Scope {
  ctx: PluginContext<SapOptions>;
  settings: Settings;
  facts: DocumentFacts;
}

function decodeIdoc(idoc: GoodsMovementIdoc, scope: Scope): LotEventDraft[] {
  const lines = idoc.items.flatMap((view, index) => {
    const line = readLine(view, { index, idoc, settings: scope.settings });
    return line ? [line] : [];
  });
  // Batch-to-batch transfers are grouped by receiving lot; the event sits where its first item is.
  const slots: (LotEventDraft | Line[])[] = [];
  const groups = new Map<string, Line[]>();
  for (const line of lines) {
    const event = (eventType: LotEventDraft["eventType"], correlationId?: string) =>
      slots.push(draft(line, scope, { eventType, correlationId }));
    if (line.moveType === "101") {
      const type = receiptType(line);
      event(type, type === "LOT_CREATED" ? line.order : line.purchaseOrder);
    } else if (line.moveType === "261") {
      event("LOT_CONSUMED", line.order);
    } else if (SHIPMENTS.has(line.moveType)) {
      slots.push(shipment(line, scope));
    } else if (line.moveType in UNREFERENCED) {
      const { eventType, sign } = UNREFERENCED[line.moveType];
      const correlationId = line.order ?? scope.facts.billOfLading;
      slots.push(draft(line, scope, { eventType, correlationId, quantity: sign * line.quantity }));
    } else if (line.moveType in REVERSALS) {
      if (reversesEvent(line, scope.settings)) slots.push(reversal(line, scope));
    } else if (changesLot(line)) {
      const key = `${line.receivingMaterial}\u0000${line.receivingBatch}`;
      let group = groups.get(key);
      if (!group) {
        group = [];
        groups.set(key, group);
        slots.push(group);
      }
      group.push(line);
    } else if (staging(line, scope.settings)) {
      event("LOT_STAGED", line.order);
    }
  }
  return slots.map((slot) => Array.isArray(slot) ? transfer(slot, scope) : slot);
}

/** 101 against a production order creates the lot; against a purchase order receives it. */
function receiptType(line: Line): "LOT_CREATED" | "LOT_RECEIVED" {
  const indicator = text(line.view, "KZBEW")?.toUpperCase();
  if (indicator === "F") return "LOT_CREATED";
  if (indicator === "B") return "LOT_RECEIVED";
  if (line.order) return "LOT_CREATED";
  if (line.purchaseOrder) return "LOT_RECEIVED";
  const path = pathOf(line.view, "KZBEW");
  throw new PluginError(
    `goods receipt 101 "${line.documentId}" names neither a production order ` +
      "(AUFNR, KZBEW F) nor a purchase order (EBELN, KZBEW B)",
    { field: path },
  );
}

/**
 * A goods issue for a stock transport order ships the lot to the receiving plant (UMWRK), mapped
 * to a plantgate plant by the plantIds option; the order (EBELN) is the shipment's reference.
 */
function shipment(line: Line, scope: Scope): LotEventDraft {
  if (!line.purchaseOrder) {
    const path = pathOf(line.view, "EBELN");
    throw new PluginError(
      `goods issue ${line.moveType} "${line.documentId}" names no stock transport order: field "${path}" is missing`,
      { field: path },
    );
  }
  const code = required(line.view, "UMWRK");
  return {
    ...draft(line, scope, { eventType: "LOT_SHIPPED", correlationId: line.purchaseOrder }),
    destination: destinationOf(code, scope.settings.plantIds, pathOf(line.view, "UMWRK")),
  };
}

/** The plantgate plant for an SAP plant code: the plantIds option, else the code itself. */
function destinationOf(
  code: string,
  plantIds: Readonly<Record<string, string>>,
  field: string,
): { plantId: string } {
  const plantId = plantIds[code] ?? plantIds[code.toUpperCase()] ?? code;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(plantId)) {
    throw new PluginError(
      `field "${field}" is plant "${code}", which is not a plantgate plant id: map it with the plantIds option`,
      { field },
    );
  }
  return { plantId };
}

function changesLot(line: Line): boolean {
  const changes = line.receivingBatch !== line.batch || line.receivingMaterial !== line.material;
  if (!changes && line.moveType === "309") {
    const path = pathOf(line.view, "UMCHA");
    throw new PluginError(
      `transfer posting 309 "${line.documentId}" changes neither the batch nor the material`,
      { field: path },
    );
  }
  return changes;
}

function staging(line: Line, settings: Settings): boolean {
  if (settings.staging.size === 0) return true;
  return settings.staging.has(line.receivingStorageLocation ?? "");
}

/** A 312 of a plain storage-location move reverses a move that gave no event: none either. */
function reversesEvent(line: Line, settings: Settings): boolean {
  const sameLot = line.receivingBatch === line.batch && line.receivingMaterial === line.material;
  return line.moveType !== "312" || !sameLot || staging(line, settings);
}

interface DraftFields {
  eventType: LotEventDraft["eventType"];
  correlationId?: string;
  lotId?: string;
  material?: string;
  quantity?: number;
  parents?: ParentLot[];
  lines?: Line[];
  extra?: Record<string, unknown>;
}

function draft(line: Line, { ctx, facts }: Scope, fields: DraftFields): LotEventDraft {
  return {
    eventId: ctx.eventId(...line.keys),
    eventType: fields.eventType,
    timestamp: facts.timestamp,
    lotId: fields.lotId ?? line.batch,
    material: fields.material ?? line.material,
    quantity: fields.quantity ?? line.quantity,
    uom: line.uom,
    parents: fields.parents ?? [],
    ...(fields.correlationId ? { correlationId: fields.correlationId } : {}),
    ...(facts.version !== undefined ? { version: facts.version } : {}),
    source: { documentId: line.documentId },
    payload: {
      ...facts.payload,
      items: (fields.lines ?? [line]).map((l) => l.audit),
      ...fields.extra,
    },
  };
}

/** SAP quantities have 3 decimals; sums are rounded so 0.1 + 0.2 stays 0.3. */
function add(a: number, b: number): number {
  return Math.round((a + b) * 1e6) / 1e6;
}

/** One source lot into the receiving lot = split; several = merge. */
function transfer(group: Line[], scope: Scope): LotEventDraft {
  const [first] = group;
  const parents = new Map<string, ParentLot & { quantity: number }>();
  let total = 0;
  for (const line of group) {
    if (line.uom !== first.uom) {
      throw new PluginError(
        `items into batch "${first.receivingBatch}" mix units ${first.uom} and ${line.uom}`,
        { field: line.unitPath },
      );
    }
    total = add(total, line.quantity);
    const key = `${line.material}\u0000${line.batch}`;
    const known = parents.get(key);
    if (known) known.quantity = add(known.quantity, line.quantity);
    else {
      parents.set(key, {
        lotId: line.batch,
        ...(line.material !== first.receivingMaterial ? { material: line.material } : {}),
        quantity: line.quantity,
        uom: line.uom,
      });
    }
  }
  return draft(first, scope, {
    eventType: parents.size > 1 ? "LOT_MERGED" : "LOT_SPLIT",
    lotId: first.receivingBatch,
    material: first.receivingMaterial,
    quantity: total,
    parents: [...parents.values()],
    correlationId: first.order,
    lines: group,
  });
}

/**
 * A reversal names the lot and quantity of the original. Reversing a batch-to-batch transfer
 * (310/312 with UMCHA) reverses the receiving lot's split or merge: that lot is the event's,
 * the issuing batch its parent.
 */
function reversal(line: Line, scope: Scope): LotEventDraft {
  const changed = (line.moveType === "310" || line.moveType === "312") &&
    (line.receivingBatch !== line.batch || line.receivingMaterial !== line.material);
  const smbln = text(line.view, "SMBLN");
  const reversed = smbln && [
    /^\d+$/.test(smbln) ? smbln.padStart(10, "0") : smbln,
    text(line.view, "SJAHR"),
    text(line.view, "SMBLP")?.padStart(4, "0"),
  ].filter(Boolean).join("/");
  return draft(line, scope, {
    eventType: "LOT_REVERSED",
    correlationId: line.order ?? line.purchaseOrder ?? scope.facts.billOfLading,
    ...(changed
      ? {
        lotId: line.receivingBatch,
        material: line.receivingMaterial,
        parents: [{
          lotId: line.batch,
          ...(line.material !== line.receivingMaterial ? { material: line.material } : {}),
          quantity: line.quantity,
          uom: line.uom,
        }],
      }
      : {}),
    extra: {
      reverses: REVERSALS[line.moveType],
      ...(reversed ? { reversedDocumentId: reversed } : {}),
    },
  });
}
