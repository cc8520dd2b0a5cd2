import assert from "node:assert/strict";
import { dcsEventId, DcsMessageError, parseDcsCommand, parseDcsEvent } from "./dcs_message.ts";

const event = {
  eventId: dcsEventId("A", "press-7", {
    jobOrderId: "JO-1",
    transition: "FromRunningToEnded",
    run: "r1",
  }),
  scope: "press-7",
  jobOrderId: "JO-1",
  transition: "FromRunningToEnded",
  response: { JobResponseID: "JR-1", JobOrderID: "JO-1", JobResponseData: [] },
  at: "2026-05-01T10:00:00.000Z",
};

const command = {
  commandId: crypto.randomUUID(),
  jobOrderId: "JO-1",
  scope: "press-7",
  action: "Run",
  jobOrder: { JobOrderID: "JO-1", Priority: 1 },
  issuedAt: "2026-05-01T10:00:00Z",
};

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof DcsMessageError, String(error));
    return error.field;
  }
  assert.fail("accepted");
}

Deno.test("a DCS event with a response and an internal transition is valid", () => {
  assert.deepEqual(parseDcsEvent(structuredClone(event)), event);
  assert.equal(
    parseDcsEvent({ ...event, transition: "Abort", response: undefined }).transition,
    "Abort",
  );
});

Deno.test("DCS event ids are deterministic from the DCS's keys", () => {
  const keys = { jobOrderId: "JO-1", transition: "FromRunningToEnded", run: "r1" };
  assert.equal(dcsEventId("A", "press-7", keys), event.eventId);
  assert.notEqual(dcsEventId("A", "press-7", { ...keys, run: "r2" }), event.eventId);
});

Deno.test("an invalid DCS event is refused naming the field", () => {
  assert.equal(fieldOf(() => parseDcsEvent([])), "(message)");
  assert.equal(fieldOf(() => parseDcsEvent({ ...event, eventId: "x" })), "eventId");
  assert.equal(fieldOf(() => parseDcsEvent({ ...event, scope: "a/b" })), "scope");
  assert.equal(fieldOf(() => parseDcsEvent({ ...event, jobOrderId: "" })), "jobOrderId");
  // Clear and Store are MES methods, not something a DCS causes.
  assert.equal(fieldOf(() => parseDcsEvent({ ...event, transition: "Clear" })), "transition");
  assert.equal(fieldOf(() => parseDcsEvent({ ...event, transition: "End" })), "transition");
  assert.equal(
    fieldOf(() => parseDcsEvent({ ...event, response: { JobResponseID: "JR-1" } })),
    "response.JobOrderID",
  );
  assert.equal(
    fieldOf(() => parseDcsEvent({ ...event, response: { ...event.response, JobOrderID: "JO-2" } })),
    "response.JobOrderID",
  );
  assert.equal(fieldOf(() => parseDcsEvent({ ...event, at: "yesterday" })), "at");
  assert.equal(fieldOf(() => parseDcsEvent({ ...event, at: "2026-05-01T10:00:00" })), "at");
});

Deno.test("a DCS command is valid with or without its job order", () => {
  assert.deepEqual(parseDcsCommand(structuredClone(command)), command);
  assert.equal(
    parseDcsCommand({ ...command, action: "Abort", jobOrder: undefined }).action,
    "Abort",
  );
});

Deno.test("an invalid DCS command is refused naming the field", () => {
  assert.equal(fieldOf(() => parseDcsCommand({ ...command, commandId: 7 })), "commandId");
  assert.equal(fieldOf(() => parseDcsCommand({ ...command, action: "Start" })), "action");
  assert.equal(
    fieldOf(() => parseDcsCommand({ ...command, jobOrder: { JobOrderID: "JO-2" } })),
    "jobOrder.JobOrderID",
  );
  assert.equal(
    fieldOf(() => parseDcsCommand({ ...command, jobOrder: { Priority: 1 } })),
    "jobOrder",
  );
  assert.equal(fieldOf(() => parseDcsCommand({ ...command, issuedAt: undefined })), "issuedAt");
});
