import assert from "node:assert/strict";
import type { CanonicalLotEvent } from "./canonical_event.ts";
import type { Plugin } from "./plugin.ts";
import { bindPlugin, decodeNative } from "./plugin_runtime.ts";
import type { LotOperation, SimulationContext } from "./simulation.ts";

const at = new Date("2026-07-15T08:22:03Z");
const base = { at, material: "100200", uom: "KGM" };

/** One operation of every kind, as the conformance check feeds them to a simulator. */
export const SAMPLE_OPERATIONS: LotOperation[] = [
  {
    ...base,
    kind: "receive",
    docNo: 11,
    lot: "L000000011",
    quantity: 500,
    supplier: "V1001",
    purchaseOrder: "4500000011",
  },
  { ...base, kind: "produce", docNo: 12, lot: "L000000012", quantity: 1250, order: "1000123" },
  {
    ...base,
    kind: "split",
    docNo: 13,
    parent: "L000000012",
    children: [{ lot: "L000000014", quantity: 200 }, { lot: "L000000015", quantity: 300 }],
  },
  {
    ...base,
    kind: "merge",
    docNo: 16,
    parents: [{ lot: "L000000014", quantity: 200 }, { lot: "L000000015", quantity: 300 }],
    child: "L000000017",
  },
  { ...base, kind: "stage", docNo: 18, lot: "L000000011", quantity: 250, order: "1000124" },
  { ...base, kind: "consume", docNo: 19, lot: "L000000011", quantity: 120, order: "1000124" },
];
SAMPLE_OPERATIONS.push(
  {
    ...base,
    kind: "reverse",
    docNo: 20,
    original: SAMPLE_OPERATIONS[5] as Extract<LotOperation, { kind: "consume" }>,
  },
  {
    ...base,
    kind: "reverse",
    docNo: 21,
    original: SAMPLE_OPERATIONS[1] as Extract<LotOperation, { kind: "produce" }>,
  },
);

type Expected = Pick<CanonicalLotEvent, "eventType" | "lotId" | "quantity" | "uom" | "parents"> & {
  correlationId?: string;
};

/** The canonical events an operation must decode to (see gateway/core/simulation.ts). */
export function expectedEvents(op: LotOperation): Expected[] {
  const simple = (
    eventType: Expected["eventType"],
    lotId: string,
    quantity: number,
    correlationId?: string,
  ) => ({
    eventType,
    lotId,
    quantity,
    uom: op.uom,
    parents: [],
    ...(correlationId ? { correlationId } : {}),
  });
  switch (op.kind) {
    case "receive":
      return [simple("LOT_RECEIVED", op.lot, op.quantity, op.purchaseOrder)];
    case "produce":
      return [simple("LOT_CREATED", op.lot, op.quantity, op.order)];
    case "stage":
      return [simple("LOT_STAGED", op.lot, op.quantity, op.order)];
    case "consume":
      return [simple("LOT_CONSUMED", op.lot, op.quantity, op.order)];
    case "split":
      return op.children.map((c) => ({
        ...simple("LOT_SPLIT", c.lot, c.quantity),
        parents: [{ lotId: op.parent, quantity: c.quantity, uom: op.uom }],
      }));
    case "merge":
      return [{
        ...simple("LOT_MERGED", op.child, op.parents.reduce((s, p) => s + p.quantity, 0)),
        parents: op.parents.map((p) => ({ lotId: p.lot, quantity: p.quantity, uom: op.uom })),
      }];
    case "reverse":
      return [simple("LOT_REVERSED", op.original.lot, op.original.quantity, op.original.order)];
  }
}

/** The fields of an event that the simulation contract fixes (what `expectedEvents` returns). */
export function contractView(e: CanonicalLotEvent): Expected {
  return {
    eventType: e.eventType,
    lotId: e.lotId,
    quantity: e.quantity,
    uom: e.uom,
    parents: e.parents.map((p) => ({ lotId: p.lotId, quantity: p.quantity, uom: p.uom })),
    ...(e.correlationId ? { correlationId: e.correlationId } : {}),
  };
}

/**
 * Checks a plugin's simulator against its decoder: every operation kind renders to a document
 * that decodes to exactly the contracted events; a re-render (ERP re-send) gives the same event
 * ids; every malformed kind is rejected with a dead-letter code, never a crash.
 */
export function checkSimulatorContract(plugin: Plugin, context: SimulationContext): void {
  assert.ok(plugin.simulator, `${plugin.name} has a simulator`);
  const bound = bindPlugin(plugin, context);
  const decode = (body: unknown) =>
    decodeNative(bound, {
      topic: `plant/${context.plantId}/erp/${context.system}/lot/events`,
      payload: new TextEncoder().encode(JSON.stringify(body)),
      observedAt: new Date(),
    });
  for (const op of SAMPLE_OPERATIONS) {
    const outcome = decode(plugin.simulator.render(op, context));
    assert.ok(outcome.ok, `${op.kind} decodes: ${!outcome.ok ? outcome.message : ""}`);
    assert.deepEqual(
      outcome.events.map(contractView),
      expectedEvents(op),
      `${op.kind} gives the contracted events`,
    );
    const again = decode(plugin.simulator.render(op, context));
    assert.ok(again.ok);
    assert.deepEqual(
      again.events.map((e) => e.eventId),
      outcome.events.map((e) => e.eventId),
      `${op.kind} re-send keeps ids`,
    );
    for (const e of outcome.events) {
      assert.equal(e.timestamp, op.at.toISOString(), `${op.kind} keeps the event time`);
    }
  }
  const ids = SAMPLE_OPERATIONS.flatMap((op) => {
    const o = decode(plugin.simulator!.render(op, context));
    return o.ok ? o.events.map((e) => e.eventId) : [];
  });
  assert.equal(new Set(ids).size, ids.length, "different documents get different ids");
  for (let i = 0; i < 20; i++) {
    const outcome = decode(plugin.simulator.malformed(i / 20, context));
    assert.ok(!outcome.ok, `malformed pick ${i / 20} is rejected`);
    assert.notEqual(outcome.code, "plugin_crashed", `malformed pick ${i / 20}: ${outcome.message}`);
  }
}
