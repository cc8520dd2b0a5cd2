import assert from "node:assert/strict";
import type { CanonicalLotEvent } from "../../gateway/core/canonical_event.ts";
import { runFixtureDir } from "../../gateway/core/fixtures.ts";
import {
  checkAnswerContract,
  checkSimulatorContract,
  contractView,
  expectedEvents,
  SAMPLE_COMMANDS,
  SAMPLE_OPERATIONS,
  UNREFERENCED_COMMANDS,
} from "../../gateway/core/plugin_conformance.ts";
import { bindPlugin, decodeNative } from "../../gateway/core/plugin_runtime.ts";
import { planTraffic } from "../../gateway/sim/erp_simulator.ts";
import type { LotCommand, LotOperation, SimulationContext } from "../../gateway/mod.ts";
import { PluginError } from "../../gateway/mod.ts";
import sap from "./mod.ts";
import { MALFORMED_KINDS } from "./simulator.ts";

const BERLIN: SimulationContext = { plantId: "DE10", system: "sap", timeZone: "Europe/Berlin" };
const CHICAGO: SimulationContext = { plantId: "US30", system: "p41", timeZone: "America/Chicago" };

type Stage = Extract<LotOperation, { kind: "stage" }>;
type Ship = Extract<LotOperation, { kind: "ship" }>;

/** The shared sample operations, the same kinds in count and volume units, and more reversals. */
const OPERATIONS: LotOperation[] = [
  ...SAMPLE_OPERATIONS,
  ...SAMPLE_OPERATIONS.filter((op) => op.kind !== "reverse").map((op, i) => ({
    ...op,
    docNo: 100 + op.docNo,
    uom: i % 2 === 0 ? "H87" : "LTR",
    // 23:30 UTC is the next day in Berlin and the same day in Chicago.
    at: new Date("2026-01-05T23:30:00Z"),
  })),
  {
    kind: "reverse",
    docNo: 150,
    // 02:59:59 Berlin summer time, an hour that comes twice when the clocks go back.
    at: new Date("2026-10-25T00:59:59Z"),
    material: "100200",
    uom: "KGM",
    original: SAMPLE_OPERATIONS.find((op) => op.kind === "stage") as Stage,
  },
];

function decoder(context: SimulationContext) {
  const bound = bindPlugin(sap, context);
  return (body: unknown) =>
    decodeNative(bound, {
      topic: `plant/${context.plantId}/erp/${context.system}/lot/events`,
      payload: new TextEncoder().encode(JSON.stringify(body)),
      observedAt: new Date(),
    });
}

function decodeOk(context: SimulationContext, body: unknown): CanonicalLotEvent[] {
  const outcome = decoder(context)(body);
  assert.ok(outcome.ok, !outcome.ok ? `${outcome.code} ${outcome.field}: ${outcome.message}` : "");
  return outcome.events;
}

Deno.test("every SAP golden fixture passes, and there are at least 8", async () => {
  const results = await runFixtureDir(sap, new URL("./fixtures", import.meta.url).pathname);
  assert.ok(results.length >= 8, `${results.length} fixtures`);
  for (const r of results) assert.ok(r.pass, `${r.file}: ${r.problem}`);
});

Deno.test("each operation renders as one WMMBXY IDoc that decodes to its contracted events", () => {
  for (const context of [BERLIN, CHICAGO]) {
    for (const op of OPERATIONS) {
      const doc = sap.simulator!.render(op, context) as { WMMBID02: { IDOC: unknown } };
      assert.ok(!Array.isArray(doc.WMMBID02.IDOC), `${op.kind}: one IDoc`);
      const events = decodeOk(context, doc);
      assert.deepEqual(events.map(contractView), expectedEvents(op), `${op.kind} in ${op.uom}`);
      for (const e of events) {
        assert.equal(e.timestamp, op.at.toISOString(), `${op.kind}: local time back to UTC`);
        assert.equal(e.version, op.docNo, "the IDoc number is the version");
        assert.match(e.source.documentId, /^\d{10}\/\d{4}\/\d{4}$/, "MBLNR/MJAHR/ZEILE");
      }
    }
  }
});

Deno.test("a re-sent document keeps its event ids; other documents get other ids", () => {
  const decode = (op: LotOperation) => decodeOk(BERLIN, sap.simulator!.render(op, BERLIN));
  const ids = OPERATIONS.flatMap((op) => {
    const first = decode(op).map((e) => e.eventId);
    assert.deepEqual(decode(op).map((e) => e.eventId), first, `${op.kind} re-send`);
    return first;
  });
  assert.equal(new Set(ids).size, ids.length);
  const elsewhere = decodeOk(CHICAGO, sap.simulator!.render(OPERATIONS[0], BERLIN));
  assert.notEqual(elsewhere[0].eventId, ids[0], "ids are scoped by plant and system");
});

Deno.test("the simulator passes the shared conformance check in Berlin and Chicago", () => {
  checkSimulatorContract(sap, BERLIN);
  checkSimulatorContract(sap, CHICAGO);
});

Deno.test("every malformed kind is refused with a dead-letter code naming the field", () => {
  const decode = decoder(BERLIN);
  const n = MALFORMED_KINDS.length;
  const messages = new Set<string>();
  for (let i = 0; i < n; i++) {
    const outcome = decode(sap.simulator!.malformed((i + 0.5) / n, BERLIN));
    const kind = MALFORMED_KINDS[i].name;
    assert.ok(!outcome.ok, `${kind} is refused`);
    assert.ok(["plugin_invalid_payload", "plugin_unsupported"].includes(outcome.code), kind);
    assert.equal(outcome.stage, "decode", kind);
    assert.ok(outcome.field, `${kind} names a field: ${outcome.message}`);
    messages.add(outcome.message);
  }
  assert.equal(messages.size, n, "each pick is a different malformation");
  for (const pick of [0, 0.999999, 1, -1, Number.NaN]) {
    assert.ok(!decode(sap.simulator!.malformed(pick, BERLIN)).ok, `pick ${pick}`);
  }
});

Deno.test("an invalid serverTimeZone option dead-letters instead of crashing the plugin", () => {
  const bound = bindPlugin(sap, { ...BERLIN, options: { serverTimeZone: "Europe/Atlantis" } });
  const outcome = decodeNative(bound, {
    topic: "plant/DE10/erp/sap/lot/events",
    payload: new TextEncoder().encode(JSON.stringify(sap.simulator!.render(OPERATIONS[0], BERLIN))),
    observedAt: new Date(),
  });
  assert.ok(!outcome.ok);
  assert.equal(outcome.code, "plugin_invalid_payload");
  assert.equal(outcome.field, "options.serverTimeZone");
});

Deno.test("unknown plugin options are refused at start-up", () => {
  assert.throws(() => bindPlugin(sap, { ...BERLIN, options: { unitAlias: {} } }), /unitAlias/);
});

const COMMAND: LotCommand = {
  commandId: "0b5e7a1c-2f4d-4e6a-8b1c-9d0e1f2a3b4c",
  commandType: "CREATE_LOT",
  plantId: "DE10",
  targetSystem: "sap",
  lotId: "L000000042",
  material: "100200",
  quantity: 250,
  uom: "KGM",
  issuedAt: "2026-03-15T23:30:00Z",
};

type Bapi = {
  BAPI_GOODSMVT_CREATE: {
    GOODSMVT_HEADER: Record<string, string>;
    GOODSMVT_CODE: { GM_CODE: string };
    GOODSMVT_ITEM: Record<string, string>[];
  };
  plantgate: Record<string, string>;
};

function encode(command: LotCommand, options: Record<string, unknown> = {}): Bapi {
  const { ctx } = bindPlugin(sap, { ...BERLIN, options });
  return sap.encode!(command, ctx).body as Bapi;
}

Deno.test("CREATE_LOT is a 521 receipt without order, or a 101 against the production order", () => {
  const plain = encode(COMMAND).BAPI_GOODSMVT_CREATE;
  assert.equal(plain.GOODSMVT_CODE.GM_CODE, "05");
  assert.deepEqual(plain.GOODSMVT_ITEM, [{
    MATERIAL: "000000000000100200",
    PLANT: "DE10",
    BATCH: "L000000042",
    MOVE_TYPE: "521",
    ENTRY_QNT: "250.000",
    ENTRY_UOM: "KG",
    ENTRY_UOM_ISO: "KGM",
    ITEM_TEXT: COMMAND.commandId,
  }]);
  assert.equal(plain.GOODSMVT_HEADER.PSTNG_DATE, "20260316", "the plant's local date");
  assert.equal(plain.GOODSMVT_HEADER.REF_DOC_NO, "0B5E7A1C2F4D4E6A");
  const order = encode({ ...COMMAND, correlationId: "1000123" }).BAPI_GOODSMVT_CREATE;
  assert.equal(order.GOODSMVT_CODE.GM_CODE, "02");
  assert.equal(order.GOODSMVT_ITEM[0].MOVE_TYPE, "101");
  assert.equal(order.GOODSMVT_ITEM[0].ORDERID, "000001000123");
  assert.equal(order.GOODSMVT_ITEM[0].MVT_IND, "F");
  assert.equal("BILL_OF_LADING" in order.GOODSMVT_HEADER, false, "the order is the reference");
});

Deno.test("RECEIVE_LOT with a purchase order is a 101 against it in the site unit spelling", () => {
  const body = encode(
    { ...COMMAND, commandType: "RECEIVE_LOT", correlationId: "4500000011", uom: "H87" },
    { unitAliases: { PC: "H87" }, commands: { storageLocation: "RM01" } },
  );
  const [item] = body.BAPI_GOODSMVT_CREATE.GOODSMVT_ITEM;
  assert.equal(body.BAPI_GOODSMVT_CREATE.GOODSMVT_CODE.GM_CODE, "01");
  assert.deepEqual(
    [item.MOVE_TYPE, item.PO_NUMBER, item.PO_ITEM, item.MVT_IND, item.STGE_LOC, item.ENTRY_UOM],
    ["101", "4500000011", "00010", "B", "RM01", "PC"],
  );
  assert.equal(body.plantgate.correlationId, "4500000011");
});

Deno.test("ADJUST_LOT posts a 551 scrapping down or its cancellation 552 up, charged to the cost center", () => {
  const up = encode(
    { ...COMMAND, commandType: "ADJUST_LOT", quantity: 2.5, correlationId: "4600000022" },
    { commands: { costCenter: "4711" } },
  ).BAPI_GOODSMVT_CREATE;
  assert.deepEqual(
    [up.GOODSMVT_ITEM[0].MOVE_TYPE, up.GOODSMVT_ITEM[0].COSTCENTER, up.GOODSMVT_CODE.GM_CODE],
    ["552", "0000004711", "03"],
  );
  assert.equal(up.GOODSMVT_HEADER.BILL_OF_LADING, "4600000022", "the reference SAP echoes");
  const down = encode(
    { ...COMMAND, commandType: "ADJUST_LOT", quantity: -2.5, payload: { reasonCode: "1" } },
    { commands: { costCenter: "4711" } },
  );
  const [item] = down.BAPI_GOODSMVT_CREATE.GOODSMVT_ITEM;
  assert.deepEqual(
    [item.MOVE_TYPE, item.ENTRY_QNT, item.COSTCENTER, item.MOVE_REAS],
    ["551", "2.500", "0000004711", "0001"],
  );
  assert.equal(down.BAPI_GOODSMVT_CREATE.GOODSMVT_CODE.GM_CODE, "03");
  const named = encode({
    ...COMMAND,
    commandType: "ADJUST_LOT",
    quantity: -1,
    payload: { reasonCode: "TRANSFER_FAILED" },
  });
  assert.equal(
    "MOVE_REAS" in named.BAPI_GOODSMVT_CREATE.GOODSMVT_ITEM[0],
    false,
    "GRUND is numeric: a reason name is not sent",
  );
});

Deno.test("encode names the command in ITEM_TEXT whole and in REF_DOC_NO in 16 characters", () => {
  for (const command of SAMPLE_COMMANDS) {
    const body = encode({ ...command, plantId: "DE10" });
    const [item] = body.BAPI_GOODSMVT_CREATE.GOODSMVT_ITEM;
    assert.equal(item.ITEM_TEXT, command.commandId, command.commandType);
    assert.equal(
      body.BAPI_GOODSMVT_CREATE.GOODSMVT_HEADER.REF_DOC_NO,
      command.commandId.replaceAll("-", "").slice(0, 16).toUpperCase(),
    );
    assert.equal(body.plantgate.commandId, command.commandId);
  }
});

Deno.test("commands SAP cannot post are refused as command_unsupported, naming the field", () => {
  const refused = (command: LotCommand, field: string) =>
    assert.throws(
      () => encode(command),
      (e) => e instanceof PluginError && e.code === "command_unsupported" && e.field === field,
    );
  refused({ ...COMMAND, commandType: "SHIP_LOT" as never }, "commandType");
  refused({ ...COMMAND, quantity: 0 }, "quantity");
  refused({ ...COMMAND, quantity: 1.0005 }, "quantity");
  refused({ ...COMMAND, lotId: "L0000000042X" }, "lotId");
  refused({ ...COMMAND, uom: "KG" }, "uom");
  refused({ ...COMMAND, plantId: "PLANT-A", payload: { plant: "PLANT-A" } }, "plant");
});

const SHIP = SAMPLE_OPERATIONS.find((op) => op.kind === "ship") as Ship;

Deno.test("a 351 goods issue for a stock transport order ships the lot to its receiving plant", () => {
  const doc = sap.simulator!.render(SHIP, BERLIN);
  const [event] = decodeOk(BERLIN, doc);
  assert.deepEqual(
    [event.eventType, event.lotId, event.quantity, event.correlationId, event.destination],
    ["LOT_SHIPPED", "L000000012", 300, "4600000022", { plantId: "DE20" }],
  );
  const [item] = event.payload?.items as Record<string, string>[];
  assert.deepEqual([item.BWART, item.UMWRK, item.EBELN], ["351", "DE20", "4600000022"]);
  const mapped = bindPlugin(sap, { ...BERLIN, options: { plantIds: { DE20: "hamburg" } } });
  const outcome = decodeNative(mapped, {
    topic: "plant/DE10/erp/sap/lot/events",
    payload: new TextEncoder().encode(JSON.stringify(doc)),
    observedAt: new Date(),
  });
  assert.ok(outcome.ok);
  assert.deepEqual(outcome.events[0].destination, { plantId: "hamburg" }, "the plantIds option");
  assert.equal(outcome.events[0].eventId, event.eventId, "the mapping does not change the id");
});

Deno.test("plantIds must map SAP plant codes to plantgate plant ids", () => {
  assert.throws(() => bindPlugin(sap, { ...BERLIN, options: { plantIds: { DE20: "ham burg" } } }));
  assert.throws(() => bindPlugin(sap, { ...BERLIN, options: { plantIds: { HAMBURG: "h" } } }));
});

Deno.test("a shipment without its receiving plant or transport order is refused naming the field", () => {
  type Doc = { WMMBID02: { IDOC: { E1MBXYH: { E1MBXYI: Record<string, unknown> } } } };
  const broken = (field: string) => {
    const doc = sap.simulator!.render(SHIP, BERLIN) as Doc;
    delete doc.WMMBID02.IDOC.E1MBXYH.E1MBXYI[field];
    return decoder(BERLIN)(doc);
  };
  for (const field of ["UMWRK", "EBELN"]) {
    const outcome = broken(field);
    assert.ok(!outcome.ok, field);
    assert.equal(outcome.code, "plugin_invalid_payload");
    assert.equal(outcome.field, `E1MBXYH.E1MBXYI.${field}`);
  }
});

Deno.test("SAP answers each command: posted it decodes to the event asked for, refused to COMMAND_REJECTED, a REPORT_LOTS to its stock report", () => {
  checkAnswerContract(sap, BERLIN);
  checkAnswerContract(sap, CHICAGO);
  checkAnswerContract(sap, BERLIN, UNREFERENCED_COMMANDS);
});

type Refused = {
  MBGMCR03: {
    IDOC: {
      EDI_DS40: Record<string, unknown>;
      E1MBGMCR: { E1BP2017_GM_ITEM_CREATE: Record<string, unknown> };
    };
  };
};

function refused(): Refused {
  const [, receive] = SAMPLE_COMMANDS;
  const { ctx } = bindPlugin(sap, BERLIN);
  const { body } = sap.encode!({ ...receive, plantId: "DE10" }, ctx);
  const at = new Date("2026-07-15T09:00:07Z");
  const reason = "PO 4600000022 does not exist";
  return sap.simulator!.answer!(body, { accept: false, reason }, {
    ...BERLIN,
    docNo: 801,
    at,
  }) as Refused;
}

Deno.test("a refused command comes back as the MBGMCR IDoc in status 51, reason from its status record", () => {
  const [event] = decodeOk(BERLIN, refused());
  assert.equal(event.eventType, "COMMAND_REJECTED");
  assert.equal(event.correlationId, SAMPLE_COMMANDS[1].commandId);
  assert.equal(event.payload?.reason, "PO 4600000022 does not exist");
  assert.deepEqual(event.payload?.status, {
    STATUS: "51",
    STATYP: "E",
    LOGDAT: "20260715",
    LOGTIM: "110007",
  });
  assert.equal(event.timestamp, "2026-07-15T09:00:07.000Z", "the status record's time");
});

Deno.test("a refused IDoc without the command id or without a reason is refused naming the field", () => {
  const noId = refused();
  delete noId.MBGMCR03.IDOC.E1MBGMCR.E1BP2017_GM_ITEM_CREATE.ITEM_TEXT;
  const noReason = refused();
  delete noReason.MBGMCR03.IDOC.EDI_DS40.STATXT;
  for (
    const [doc, field] of [
      [noId, "E1MBGMCR.E1BP2017_GM_ITEM_CREATE.ITEM_TEXT"],
      [noReason, "EDI_DS40.STATXT"],
    ] as const
  ) {
    const outcome = decoder(BERLIN)(doc);
    assert.ok(!outcome.ok, field);
    assert.equal(outcome.code, "plugin_invalid_payload");
    assert.equal(outcome.field, field);
    assert.match(outcome.message, /missing/);
  }
});

Deno.test("planned traffic with shipTo mixes in shipments of its own lots; without it, none", () => {
  const plan = (shipTo?: string[]) =>
    planTraffic({ plugin: sap, context: BERLIN, count: 400, seed: 5, shipTo, malformedRatio: 0 });
  assert.equal(plan().filter((m) => m.op?.kind === "ship").length, 0);
  const shipped = plan(["DE10", "DE20", "US30"]).filter((m) => m.op?.kind === "ship");
  assert.ok(shipped.length > 0, "some shipments");
  for (const m of shipped) {
    const [event] = decodeOk(BERLIN, JSON.parse(new TextDecoder().decode(m.payload)));
    const op = m.op as Ship;
    assert.deepEqual(contractView(event), expectedEvents(op)[0]);
    assert.notEqual(op.toPlant, "DE10", "never to itself");
  }
});
