import assert from "node:assert/strict";
import type { CanonicalLotEvent } from "./canonical_event.ts";
import type { LotCommand, Plugin } from "./plugin.ts";
import { bindPlugin, type BoundPlugin, decodeNative } from "./plugin_runtime.ts";
import type { CommandDecision, LotOperation, SimulationContext, StockLine } from "./simulation.ts";

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
  {
    ...base,
    kind: "ship",
    docNo: 22,
    lot: "L000000012",
    quantity: 300,
    shipment: "4600000022",
    toPlant: "DE20",
  },
);

type Expected = Pick<CanonicalLotEvent, "eventType" | "lotId" | "quantity" | "uom" | "parents"> & {
  correlationId?: string;
  destination?: CanonicalLotEvent["destination"];
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
    case "ship":
      return [{
        ...simple("LOT_SHIPPED", op.lot, op.quantity, op.shipment),
        destination: { plantId: op.toPlant },
      }];
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
    ...(e.destination ? { destination: e.destination } : {}),
  };
}

/**
 * Checks a plugin's simulator against its decoder: every operation kind renders to a document
 * that decodes to exactly the contracted events; a re-render (ERP re-send) gives the same event
 * ids; every malformed kind is rejected with a dead-letter code, never a crash.
 */
export function checkSimulatorContract(plugin: Plugin, context: SimulationContext): void {
  assert.ok(plugin.simulator, `${plugin.name} has a simulator`);
  const decode = decoderFor(bindPlugin(plugin, context), context);
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

function decoderFor(bound: BoundPlugin, context: SimulationContext) {
  return (body: unknown) =>
    decodeNative(bound, {
      topic: `plant/${context.plantId}/erp/${context.system}/lot/events`,
      payload: new TextEncoder().encode(JSON.stringify(body)),
      observedAt: new Date(),
    });
}

const command = {
  plantId: "A",
  targetSystem: "erp",
  lotId: "L000000042",
  material: "100200",
  quantity: 250,
  uom: "KGM",
  issuedAt: "2026-07-15T09:00:00Z",
};

/**
 * One command of each shape the answer contract covers: the centre's transfer saga sends
 * RECEIVE_LOT with the shipment reference and compensates with a positive ADJUST_LOT under the
 * same reference; CREATE_LOT names its production order; a write-off is a negative ADJUST_LOT.
 */
export const SAMPLE_COMMANDS: readonly LotCommand[] = [
  {
    ...command,
    commandId: "0b5e7a1c-0000-4000-8000-000000000011",
    commandType: "CREATE_LOT",
    correlationId: "1000123",
  },
  {
    ...command,
    commandId: "0b5e7a1c-0000-4000-8000-000000000012",
    commandType: "RECEIVE_LOT",
    quantity: 300,
    correlationId: "4600000022",
    payload: { sourcePlant: "DE20", sourceSystem: "sap" },
  },
  {
    ...command,
    commandId: "0b5e7a1c-0000-4000-8000-000000000013",
    commandType: "ADJUST_LOT",
    quantity: 300,
    correlationId: "4600000022",
    payload: { reasonCode: "TRANSFER_FAILED" },
  },
  {
    ...command,
    commandId: "0b5e7a1c-0000-4000-8000-000000000014",
    commandType: "ADJUST_LOT",
    quantity: -2.5,
  },
];

/**
 * CREATE_LOT and RECEIVE_LOT without a reference (no production or purchase order): the ERP
 * posts them without one, and its answer must still decode to the command's event.
 */
export const UNREFERENCED_COMMANDS: readonly LotCommand[] = SAMPLE_COMMANDS.slice(0, 2).map(
  (c, i) => ({
    ...c,
    commandId: `0b5e7a1c-0000-4000-8000-00000000002${i + 1}`,
    correlationId: undefined,
  }),
);

/** The unit of events about a stock report as a whole (empty, refused): the one REPORT_LOTS has. */
export const REPORT_UOM = "H87";

/**
 * REPORT_LOTS as the centre's reconciliation sends them (quantity 0, uom H87): all lots, one lot,
 * one material, and a lot the ERP does not hold.
 */
export const SAMPLE_REPORT_COMMANDS: readonly LotCommand[] = [
  { lotId: "*", material: "*" },
  { lotId: "L000000042", material: "*" },
  { lotId: "*", material: "100200" },
  { lotId: "L000000099", material: "100200" },
].map((filter, i) => ({
  ...command,
  ...filter,
  commandId: `0b5e7a1c-0000-4000-8000-00000000002${i + 1}`,
  commandType: "REPORT_LOTS" as const,
  quantity: 0,
  uom: REPORT_UOM,
}));

/** Lots an ERP holds for the report contract: two materials, two units, a fraction. */
export const SAMPLE_STOCK: readonly StockLine[] = [
  { lotId: "L000000011", material: "100200", quantity: 130, uom: "KGM" },
  { lotId: "L000000042", material: "100300", quantity: 12, uom: "H87" },
  { lotId: "L000000017", material: "100200", quantity: 500.5, uom: "KGM" },
];

/** The stock lines a REPORT_LOTS asks for: its lot and material, unless "*". */
export function stockFor(command: LotCommand, stock: readonly StockLine[]): StockLine[] {
  return stock.filter((s) =>
    (command.lotId === "*" || s.lotId === command.lotId) &&
    (command.material === "*" || s.material === command.material)
  );
}

/**
 * The events a stock report must decode to, in any order: one LOT_STOCK_REPORTED per line, or
 * one with lot and material "*" for an empty report.
 */
export function expectedReport(command: LotCommand, stock: readonly StockLine[]) {
  const lines = stockFor(command, stock);
  const view = (lotId: string, material: string, quantity: number, uom: string) => ({
    eventType: "LOT_STOCK_REPORTED" as const,
    lotId,
    material,
    quantity,
    uom,
    correlationId: command.commandId,
  });
  return lines.length === 0
    ? [view("*", "*", 0, REPORT_UOM)]
    : lines.map((s) => view(s.lotId, s.material, s.quantity, s.uom));
}

const ANSWERED = {
  CREATE_LOT: "LOT_CREATED",
  RECEIVE_LOT: "LOT_RECEIVED",
  ADJUST_LOT: "LOT_ADJUSTED",
} as const;

/** The canonical event an ERP's answer to `command` must decode to (see `ErpSimulator.answer`). */
export function expectedAnswer(command: LotCommand, decision: CommandDecision): Expected {
  const { lotId, quantity, uom } = command;
  if (!decision.accept) {
    return {
      eventType: "COMMAND_REJECTED",
      lotId,
      quantity,
      uom,
      parents: [],
      correlationId: command.commandId,
    };
  }
  if (command.commandType === "REPORT_LOTS") {
    throw new TypeError("an accepted REPORT_LOTS is a stock report: see expectedReport");
  }
  return {
    eventType: ANSWERED[command.commandType],
    lotId,
    quantity,
    uom,
    parents: [],
    ...(command.correlationId ? { correlationId: command.correlationId } : {}),
  };
}

type Decode = ReturnType<typeof decoderFor>;
type Answer = NonNullable<NonNullable<Plugin["simulator"]>["answer"]>;
type AnswerContext = Parameters<Answer>[2];

/** Decodes an answer twice (an ERP re-send): both decode, to the same event ids. */
function decodeTwice(decode: Decode, reply: () => unknown, label: string): CanonicalLotEvent[] {
  const outcome = decode(reply());
  assert.ok(outcome.ok, `${label} decodes: ${!outcome.ok ? outcome.message : ""}`);
  const again = decode(reply());
  assert.ok(again.ok, `${label} decodes again`);
  const ids = outcome.events.map((e) => e.eventId);
  assert.deepEqual(again.events.map((e) => e.eventId), ids, `${label}: a re-send keeps its ids`);
  assert.equal(new Set(ids).size, ids.length, `${label}: one id per event`);
  return outcome.events;
}

/** An accepted REPORT_LOTS: the stock report of each stock, line numbers 1..n, any line order. */
function checkReport(
  sent: LotCommand,
  body: unknown,
  check: { answer: Answer; decode: Decode; ctx: AnswerContext },
) {
  const stocks = [[], [SAMPLE_STOCK[0]], SAMPLE_STOCK];
  for (const [v, stock] of stocks.entries()) {
    const label = `REPORT_LOTS ${sent.lotId}/${sent.material} over ${stock.length} lots`;
    const ctx = { ...check.ctx, docNo: check.ctx.docNo + v, stock };
    const events = decodeTwice(
      check.decode,
      () => check.answer(body, { accept: true }, ctx),
      label,
    );
    const byLot = (a: { lotId: string }, b: { lotId: string }) => a.lotId.localeCompare(b.lotId);
    const view = events.map((e) => ({
      eventType: e.eventType,
      lotId: e.lotId,
      material: e.material,
      quantity: e.quantity,
      uom: e.uom,
      correlationId: e.correlationId,
    }));
    assert.deepEqual(view.sort(byLot), expectedReport(sent, stock).sort(byLot), label);
    const lines = stockFor(sent, stock).length;
    const numbers = events.map((e) => e.payload?.line).sort();
    assert.deepEqual(numbers, lines ? [...Array(lines).keys()].map((i) => i + 1) : [undefined]);
    for (const e of events) {
      assert.equal(e.payload?.lines, lines, `${label}: payload.lines`);
      assert.equal(e.timestamp, ctx.at.toISOString(), `${label}: the report's time`);
    }
  }
}

/**
 * Checks a plugin's `simulator.answer` against its `encode` and `decode`: each command, encoded
 * and answered, decodes to exactly the posting (accepted) or to COMMAND_REJECTED carrying the
 * reason (rejected), at the answer's time; a re-sent answer keeps its event ids. A REPORT_LOTS,
 * accepted, decodes to the stock report of no, one and several lots the ERP holds (filtered by
 * the command's lot and material).
 */
export function checkAnswerContract(
  plugin: Plugin,
  context: SimulationContext,
  commands: readonly LotCommand[] = [...SAMPLE_COMMANDS, ...SAMPLE_REPORT_COMMANDS],
): void {
  const answer = plugin.simulator?.answer?.bind(plugin.simulator);
  assert.ok(answer && plugin.encode, `${plugin.name} encodes commands and answers them`);
  const bound = bindPlugin(plugin, context);
  const decode = decoderFor(bound, context);
  const reason = "Deficit of unrestricted-use stock";
  for (const [i, sent] of commands.entries()) {
    const { body } = plugin.encode({ ...sent, plantId: context.plantId }, bound.ctx);
    const at = new Date(Date.UTC(2026, 6, 15, 9, 0, 5 + i));
    const ctx: AnswerContext = { ...context, docNo: 700 + 10 * i, at };
    const reports = sent.commandType === "REPORT_LOTS";
    if (reports) checkReport(sent, body, { answer, decode, ctx });
    const decisions: CommandDecision[] = [{ accept: false, reason }];
    if (!reports) decisions.unshift({ accept: true });
    for (const decision of decisions) {
      const label = `${sent.commandType} ${decision.accept ? "accepted" : "rejected"}`;
      const events = decodeTwice(decode, () => answer(body, decision, ctx), label);
      const expected = expectedAnswer(sent, decision);
      assert.deepEqual(events.map(contractView), [expected], label);
      assert.equal(events[0].timestamp, at.toISOString(), `${label}: the answer's time`);
      if (!decision.accept) assert.match(String(events[0].payload?.reason), /Deficit/, label);
      if (reports) assert.equal(events[0].material, sent.material, `${label}: the material asked`);
    }
  }
}
