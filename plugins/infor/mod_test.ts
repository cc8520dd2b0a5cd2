import assert from "node:assert/strict";
import { type Fixture, runFixtureDir } from "../../gateway/core/fixtures.ts";
import {
  checkSimulatorContract,
  contractView,
  expectedEvents,
  SAMPLE_OPERATIONS,
} from "../../gateway/core/plugin_conformance.ts";
import { bindPlugin, decodeNative } from "../../gateway/core/plugin_runtime.ts";
import { type LotCommand, PluginError } from "../../gateway/mod.ts";
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
  assert.equal(kinds.size, 7, "the sample covers every LotOperation kind");
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
