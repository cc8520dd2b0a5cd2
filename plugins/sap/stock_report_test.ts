import assert from "node:assert/strict";
import {
  checkAnswerContract,
  SAMPLE_REPORT_COMMANDS,
  SAMPLE_STOCK,
} from "../../gateway/core/plugin_conformance.ts";
import { bindPlugin, decodeNative } from "../../gateway/core/plugin_runtime.ts";
import type { LotCommand, SimulationContext } from "../../gateway/mod.ts";
import { PluginError } from "../../gateway/mod.ts";
import sap from "./mod.ts";

const BERLIN: SimulationContext = { plantId: "DE10", system: "sap", timeZone: "Europe/Berlin" };
const [ALL, ONE_LOT, ONE_MATERIAL] = SAMPLE_REPORT_COMMANDS;
const AT = new Date("2026-07-15T09:00:05Z");

type Obj = Record<string, unknown>;
type Request = { RMCPAMRP: Obj; plantgate: Obj };

function encode(command: LotCommand, options: Obj = {}): Request {
  const { ctx } = bindPlugin(sap, { ...BERLIN, options });
  return sap.encode!({ ...command, plantId: "DE10" }, ctx).body as Request;
}

function answer(command: LotCommand, accept = true, stock = SAMPLE_STOCK): Obj {
  const decision = accept ? { accept } as const : { accept, reason: "Plant DE10 is locked" };
  return sap.simulator!.answer!(encode(command), decision, {
    ...BERLIN,
    docNo: 7,
    at: AT,
    stock,
  }) as Obj;
}

function decode(body: unknown) {
  return decodeNative(bindPlugin(sap, BERLIN), {
    topic: "plant/DE10/erp/sap/lot/events",
    payload: new TextEncoder().encode(JSON.stringify(body)),
    observedAt: new Date(),
  });
}

Deno.test("REPORT_LOTS asks the bridge to run RMCPAMRP in a job named after the command", () => {
  const all = encode(ALL);
  assert.deepEqual(all.RMCPAMRP, {
    JOBNAME: ALL.commandId.replaceAll("-", ""),
    MESTYP: "LOISTD",
    OPT_SYS: "EDGE_DE10",
    WERKS_ST: [{ SIGN: "I", OPTION: "EQ", LOW: "DE10" }],
  });
  assert.deepEqual(all.plantgate, {
    commandId: ALL.commandId,
    commandType: "REPORT_LOTS",
    lotId: "*",
    material: "*",
  });
  const one = encode(ONE_MATERIAL, { commands: { logicalSystem: "PLANTGATE1" } });
  assert.deepEqual(one.RMCPAMRP.MATNR_ST, [{ SIGN: "I", OPTION: "EQ", LOW: "000000000000100200" }]);
  assert.equal(one.RMCPAMRP.OPT_SYS, "PLANTGATE1", "the logicalSystem option");
});

Deno.test("a REPORT_LOTS SAP cannot run is refused with command_unsupported, naming the field", () => {
  const refused = (command: LotCommand, field: string) =>
    assert.throws(
      () => encode(command),
      (e) => e instanceof PluginError && e.code === "command_unsupported" && e.field === field,
    );
  refused({ ...ALL, lotId: "L0000000042X" }, "lotId");
  refused({ ...ALL, commandId: `${ALL.commandId}-retry` }, "commandId");
  refused({ ...ALL, payload: { plant: "PLANT-A" } }, "plant");
});

Deno.test("RMCPAMRP lists every batch of a material; the report keeps the batch the command asked", () => {
  const doc = answer(ONE_LOT) as { LOISTD01: { IDOC: unknown[] } };
  assert.equal(doc.LOISTD01.IDOC.length, 2, "one LOISTD01 per material");
  const outcome = decode(doc);
  assert.ok(outcome.ok);
  assert.deepEqual(
    outcome.events.map((e) => [e.lotId, e.material, e.quantity, e.uom, e.payload?.lines]),
    [["L000000042", "100300", 12, "H87", 1]],
  );
  assert.equal(outcome.events[0].timestamp, AT.toISOString(), "the job's end, server time");
});

Deno.test("SAP reports its batch stock, and a cancelled job rejects the REPORT_LOTS, in Chicago too", () => {
  checkAnswerContract(sap, { plantId: "US30", system: "p41", timeZone: "America/Chicago" }, [
    ...SAMPLE_REPORT_COMMANDS,
  ]);
  const [event] = (() => {
    const outcome = decode(answer(ONE_MATERIAL, false));
    assert.ok(outcome.ok);
    return outcome.events;
  })();
  assert.deepEqual(
    [event.eventType, event.lotId, event.material, event.correlationId, event.payload?.reason],
    ["COMMAND_REJECTED", "*", "100200", ONE_MATERIAL.commandId, "Plant DE10 is locked"],
  );
});

Deno.test("a stock report that is not over, counts stock twice or hides why it failed is refused", () => {
  type Doc = {
    RMCPAMRP: { JOB: Obj; JOBLOG?: Obj[] };
    LOISTD01: { IDOC: { E1MDSTL: { E1PLSEL: { E1MDPSL: Obj[] } } }[] };
  };
  const running = answer(ALL) as Doc;
  running.RMCPAMRP.JOB.STATUS = "R";
  const twice = answer(ALL) as Doc;
  twice.LOISTD01.IDOC[0].E1MDSTL.E1PLSEL.E1MDPSL[1].DELKZ = "LC";
  const silent = answer(ALL, false) as Doc;
  silent.RMCPAMRP.JOBLOG = silent.RMCPAMRP.JOBLOG!.filter((e) => e.MSGTYPE === "S");
  const noEcho = answer(ALL) as Obj;
  delete noEcho.plantgate;
  for (
    const [doc, field] of [
      [running, "RMCPAMRP.JOB.STATUS"],
      [twice, "LOISTD01.IDOC[0].E1MDSTL.E1PLSEL.E1MDPSL[1].DELKZ"],
      [silent, "RMCPAMRP.JOBLOG"],
      [noEcho, "plantgate"],
    ] as const
  ) {
    const outcome = decode(doc);
    assert.ok(!outcome.ok, field);
    assert.equal(outcome.code, "plugin_invalid_payload", field);
    assert.equal(outcome.field, field);
  }
});
