import assert from "node:assert/strict";
import { type Fixture, runFixtureDir } from "../../gateway/core/fixtures.ts";
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
import { type LotCommand, type LotOperation, PluginError } from "../../gateway/mod.ts";
import infor from "./mod.ts";
import { MALFORMED_KINDS } from "./simulator.ts";

const context = { plantId: "C", system: "infor", timeZone: "Asia/Shanghai" };
const bound = bindPlugin(infor, context);
const fixtures = new URL("./fixtures", import.meta.url).pathname;

function decode(body: unknown) {
  return decodeNative(bound, {
    topic: "plant/C/erp/infor/lot/events",
    payload: new TextEncoder().encode(JSON.stringify(body)),
    observedAt: new Date("2026-03-15T10:00:00Z"),
  });
}

function events(body: unknown) {
  const outcome = decode(body);
  assert.ok(outcome.ok, outcome.ok ? "" : `${outcome.code} ${outcome.field}: ${outcome.message}`);
  return outcome.events;
}

function expected(name: string): NonNullable<Fixture["expect"]> {
  const fixture: Fixture = JSON.parse(Deno.readTextFileSync(`${fixtures}/${name}.json`));
  return fixture.expect ?? [];
}

Deno.test("every Infor golden fixture passes, and there are at least 8", async () => {
  const results = await runFixtureDir(infor, fixtures);
  assert.ok(results.length >= 8, `${results.length} fixtures`);
  for (const r of results) assert.ok(r.pass, `${r.file}: ${r.problem}`);
});

Deno.test("the Replace fixture is a new version of the Add fixture, not a duplicate of it", () => {
  const [add] = expected("01_m3_issue_to_manufacturing_order");
  const [replace] = expected("09_replace_is_a_new_version");
  assert.equal(replace.source.documentId, add.source.documentId);
  assert.notEqual(replace.eventId, add.eventId);
  assert.ok(replace.version! > add.version!);
});

Deno.test("two documents in one BOD give distinct event ids even for the same lot and line", () => {
  const [scrap, issue] = expected("15_two_nouns_scrap_and_issue");
  assert.equal(scrap.lotId, issue.lotId);
  assert.notEqual(scrap.eventId, issue.eventId);
});

Deno.test("each simulated operation kind decodes to the events simulation.ts contracts", () => {
  const kinds = new Set(SAMPLE_OPERATIONS.map((op) => op.kind));
  assert.equal(kinds.size, 8, "the sample covers every LotOperation kind");
  for (const op of SAMPLE_OPERATIONS) {
    const got = events(infor.simulator!.render(op, context)).map(contractView);
    assert.deepEqual(got, expectedEvents(op), `${op.kind} (docNo ${op.docNo})`);
  }
});

Deno.test("re-rendering the same operation (an ION re-send of the BODID) keeps the event ids", () => {
  for (const op of SAMPLE_OPERATIONS) {
    const first = events(infor.simulator!.render(op, context)).map((e) => e.eventId);
    const again = events(infor.simulator!.render(op, context)).map((e) => e.eventId);
    assert.deepEqual(again, first, op.kind);
  }
});

Deno.test("the simulator passes the shared conformance check in Shanghai and Chicago time", () => {
  checkSimulatorContract(infor, context);
  checkSimulatorContract(infor, { ...context, timeZone: "America/Chicago" });
});

Deno.test("a simulated reversal is a Delete of the original document with a higher version", () => {
  const reverse = SAMPLE_OPERATIONS.find((op) => op.kind === "reverse")!;
  if (reverse.kind !== "reverse") throw new Error("no reverse operation in the sample");
  const [original] = events(infor.simulator!.render(reverse.original, context));
  const [reversal] = events(infor.simulator!.render(reverse, context));
  assert.equal(reversal.eventType, "LOT_REVERSED");
  assert.equal(reversal.payload?.actionCode, "Delete");
  assert.equal(reversal.payload?.reverses, original.eventType);
  assert.equal(reversal.source.documentId, original.source.documentId);
  assert.notEqual(reversal.eventId, original.eventId);
  assert.ok(reversal.version! > original.version!);
});

Deno.test("every malformed kind is rejected as a dead letter naming a field, never a crash", () => {
  const seen = new Set<string>();
  for (let i = 0; i < MALFORMED_KINDS * 3; i++) {
    const pick = i / (MALFORMED_KINDS * 3);
    const outcome = decode(infor.simulator!.malformed(pick, context));
    assert.ok(!outcome.ok, `pick ${pick} is rejected`);
    assert.match(outcome.code, /^plugin_(invalid_payload|unsupported)$/, outcome.message);
    assert.ok(outcome.field, `pick ${pick} names the field: ${outcome.message}`);
    seen.add(outcome.message);
  }
  assert.equal(seen.size, MALFORMED_KINDS, [...seen].join("\n"));
});

const command: LotCommand = {
  commandId: "0b5e7a1c-0000-4000-8000-000000000003",
  commandType: "RECEIVE_LOT",
  plantId: "C",
  targetSystem: "infor",
  lotId: "R2503150001",
  material: "RM-10022",
  quantity: 820,
  uom: "KGM",
  correlationId: "4500012345",
  issuedAt: "2026-03-15T09:00:00Z",
};

type ProcessBod = Record<string, {
  ApplicationArea: { BODID: string; CreationDateTime: string };
  DataArea: Record<string, Record<string, Record<string, unknown>>>;
}>;

Deno.test("RECEIVE_LOT encodes as a ProcessReceiveDelivery whose BODID comes from the command id", () => {
  const { body } = infor.encode!(command, bound.ctx) as { body: ProcessBod };
  const bod = body.ProcessReceiveDelivery;
  assert.equal(
    bod.ApplicationArea.BODID,
    "infor-nid:C:::0b5e7a1c-0000-4000-8000-000000000003:1?ReceiveDelivery&verb=Process&variationID=1",
  );
  assert.equal(bod.ApplicationArea.CreationDateTime, command.issuedAt);
  const item = bod.DataArea.ReceiveDelivery.ReceiveDeliveryItem;
  assert.deepEqual(item.ReceivedQuantity, { "@unitCode": "KGM", "#text": "820" });
  assert.deepEqual(item.ItemInstance, { Lot: { LotIDs: { ID: "R2503150001" } } });
  assert.deepEqual(item.PurchaseOrderReference, { DocumentID: { ID: "4500012345" } });
  assert.deepEqual(infor.encode!(command, bound.ctx), { body }, "the same command, the same BOD");
});

Deno.test("CREATE_LOT and ADJUST_LOT encode as ProcessInventoryAdjustment under the tenant option", () => {
  const withTenant = bindPlugin(infor, { ...context, options: { tenant: "ACME_PRD" } }).ctx;
  const create = infor.encode!(
    { ...command, commandType: "CREATE_LOT", correlationId: "7001245" },
    withTenant,
  ) as { body: ProcessBod };
  const bod = create.body.ProcessInventoryAdjustment;
  assert.match(
    bod.ApplicationArea.BODID,
    /^infor-nid:ACME_PRD:.*\?InventoryAdjustment&verb=Process/,
  );
  const line = bod.DataArea.InventoryAdjustment.InventoryAdjustmentLine;
  assert.deepEqual(line.DocumentReference, {
    "@type": "ProductionOrder",
    DocumentID: { ID: "7001245" },
  });
  const adjust = infor.encode!(
    { ...command, commandType: "ADJUST_LOT", quantity: -12.5 },
    withTenant,
  ) as { body: ProcessBod };
  const adjusted = adjust.body.ProcessInventoryAdjustment.DataArea.InventoryAdjustment;
  assert.deepEqual(adjusted.InventoryAdjustmentLine.Quantity, {
    "@unitCode": "KGM",
    "#text": "-12.5",
  });
});

Deno.test("Infor refuses commands it cannot express with command_unsupported", () => {
  const refused = [
    { ...command, commandType: "SHIP_LOT" as never },
    { ...command, quantity: -5 },
    { ...command, uom: "BUCKET" },
  ];
  for (const bad of refused) {
    assert.throws(
      () => infor.encode!(bad, bound.ctx),
      (e) => e instanceof PluginError && e.code === "command_unsupported",
    );
  }
});

type Ship = Extract<LotOperation, { kind: "ship" }>;
const SHIP = SAMPLE_OPERATIONS.find((op) => op.kind === "ship") as Ship;
type Obj = Record<string, unknown>;

/** The object at a dotted path of a BOD the test built. */
function node(doc: unknown, path: string): Obj {
  return path.split(".").reduce((o, key) => (o as Obj)[key], doc) as Obj;
}

Deno.test("a Sync Shipment ships each lot to the plant of its ship-to location", () => {
  const bod = infor.simulator!.render(SHIP, context) as Obj;
  const [event] = events(bod);
  assert.deepEqual(
    [event.eventType, event.lotId, event.quantity, event.correlationId, event.destination],
    ["LOT_SHIPPED", "L000000012", 300, "4600000022", { plantId: "DE20" }],
  );
  assert.equal(event.payload?.shipTo, "DE20");
  const mapped = bindPlugin(infor, { ...context, options: { plantIds: { DE20: "hamburg" } } });
  const outcome = decodeNative(mapped, {
    topic: "plant/C/erp/infor/lot/events",
    payload: new TextEncoder().encode(JSON.stringify(bod)),
    observedAt: new Date(),
  });
  assert.ok(outcome.ok);
  assert.deepEqual(outcome.events[0].destination, { plantId: "hamburg" });
  delete node(bod, "SyncShipment.DataArea.Shipment.ShipmentHeader").ShipToParty;
  const refused = decode(bod);
  assert.ok(!refused.ok);
  assert.equal(
    refused.field,
    "SyncShipment.DataArea.Shipment.ShipmentHeader.ShipToParty.Location.ID",
  );
});

Deno.test("ADJUST_LOT carries its correlationId as a DocumentReference the posting echoes", () => {
  const [, , compensate] = SAMPLE_COMMANDS;
  const { body } = infor.encode!({ ...compensate, plantId: "C" }, bound.ctx) as {
    body: ProcessBod;
  };
  const bod = body.ProcessInventoryAdjustment;
  assert.match(bod.ApplicationArea.BODID, new RegExp(`:${compensate.commandId}:1\\?`));
  const line = bod.DataArea.InventoryAdjustment.InventoryAdjustmentLine;
  assert.deepEqual(line.DocumentReference, {
    "@type": "Reference",
    DocumentID: { ID: "4600000022" },
  });
});

Deno.test("LN answers each Process BOD with the Sync of the posted document or a rejecting Acknowledge, each Get with a Show", () => {
  checkAnswerContract(infor, context);
  // Infor's order-less CREATE_LOT comes back as LOT_ADJUSTED (README): the receipt only.
  checkAnswerContract(infor, { ...context, timeZone: "America/Chicago" }, [
    UNREFERENCED_COMMANDS[1],
  ]);
});

function acknowledge(accept: boolean): Obj {
  const [, receive] = SAMPLE_COMMANDS;
  const { body } = infor.encode!({ ...receive, plantId: "C" }, bound.ctx);
  const decision = accept ? { accept } as const : { accept, reason: "Lot is on hold" };
  const at = new Date("2026-07-15T09:00:07Z");
  return infor.simulator!.answer!(body, decision, { ...context, docNo: 801, at }) as Obj;
}

Deno.test("a rejecting Acknowledge names the command by its original BODID and says why", () => {
  const bod = acknowledge(false);
  const bodId = node(bod, "AcknowledgeReceiveDelivery.ApplicationArea").BODID;
  assert.match(String(bodId), /verb=Acknowledge.*sequence=1$/);
  const [event] = events(bod);
  assert.equal(event.eventType, "COMMAND_REJECTED");
  assert.equal(event.correlationId, SAMPLE_COMMANDS[1].commandId);
  assert.equal(event.payload?.reason, "Lot is on hold");
  assert.equal(event.payload?.reasonCode, "ERR");
  const accepted = acknowledge(false);
  const criteria = "AcknowledgeReceiveDelivery.DataArea.Acknowledge.ResponseCriteria";
  node(accepted, `${criteria}.ResponseExpression`)["@actionCode"] = "Accepted";
  assert.deepEqual(events(accepted), [], "an accepted Process is reported by its Sync");
});

Deno.test("an Acknowledge without its original BODID or its reason is refused naming the field", () => {
  const path = "AcknowledgeReceiveDelivery.DataArea.Acknowledge";
  const noOriginal = acknowledge(false);
  delete node(noOriginal, path).OriginalApplicationArea;
  const noReason = acknowledge(false);
  delete node(noReason, `${path}.ResponseCriteria.ChangeStatus`).Reason;
  for (
    const [bod, field] of [
      [noOriginal, `${path}.OriginalApplicationArea.BODID`],
      [noReason, `${path}.ResponseCriteria.ChangeStatus.Reason`],
    ] as const
  ) {
    const outcome = decode(bod);
    assert.ok(!outcome.ok, field);
    assert.equal(outcome.code, "plugin_invalid_payload");
    assert.equal(outcome.field, field);
    assert.match(outcome.message, /missing/);
  }
});

Deno.test("planned traffic with shipTo mixes in Shipments that decode to their targets", () => {
  const plan = planTraffic({
    plugin: infor,
    context,
    count: 400,
    seed: 5,
    shipTo: ["B", "C", "DE20"],
    malformedRatio: 0,
  });
  const shipped = plan.filter((m) => m.op?.kind === "ship");
  assert.ok(shipped.length > 0);
  for (const m of shipped) {
    const [event] = events(JSON.parse(new TextDecoder().decode(m.payload)));
    assert.deepEqual(contractView(event), expectedEvents(m.op!)[0]);
  }
});
