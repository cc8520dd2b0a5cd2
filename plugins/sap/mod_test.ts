import assert from "node:assert/strict";
import type { CanonicalLotEvent } from "../../gateway/core/canonical_event.ts";
import { runFixtureDir } from "../../gateway/core/fixtures.ts";
import {
  checkSimulatorContract,
  contractView,
  expectedEvents,
  SAMPLE_OPERATIONS,
} from "../../gateway/core/plugin_conformance.ts";
import { bindPlugin, decodeNative } from "../../gateway/core/plugin_runtime.ts";
import type { LotCommand, LotOperation, SimulationContext } from "../../gateway/mod.ts";
import { PluginError } from "../../gateway/mod.ts";
import sap from "./mod.ts";
import { MALFORMED_KINDS } from "./simulator.ts";

const BERLIN: SimulationContext = { plantId: "DE10", system: "sap", timeZone: "Europe/Berlin" };
const CHICAGO: SimulationContext = { plantId: "US30", system: "p41", timeZone: "America/Chicago" };

type Stage = Extract<LotOperation, { kind: "stage" }>;

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

Deno.test("CREATE_LOT is a 501 receipt, or a 101 against the production order it names", () => {
  const plain = encode(COMMAND).BAPI_GOODSMVT_CREATE;
  assert.equal(plain.GOODSMVT_CODE.GM_CODE, "05");
  assert.deepEqual(plain.GOODSMVT_ITEM, [{
    MATERIAL: "000000000000100200",
    PLANT: "DE10",
    BATCH: "L000000042",
    MOVE_TYPE: "501",
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

Deno.test("ADJUST_LOT posts a 501 up or a 551 scrapping down, charged to the cost center", () => {
  const up = encode({ ...COMMAND, commandType: "ADJUST_LOT", quantity: 2.5 });
  assert.equal(up.BAPI_GOODSMVT_CREATE.GOODSMVT_ITEM[0].MOVE_TYPE, "501");
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
