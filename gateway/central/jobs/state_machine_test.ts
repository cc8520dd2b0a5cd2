import assert from "node:assert/strict";
import {
  allowedEvents,
  applyMethod,
  INVALID_JOB_ORDER_STATUS,
  INVALID_REQUEST,
  isClearable,
  isListed,
  isRule,
  type Job,
  JOB_EVENTS,
  type JobEvent,
  LEAF_STATES,
  type MethodArgs,
  NO_ERROR,
  type ReturnStatus,
  TABLE_STATES,
  TRANSITION_TABLE,
  UNABLE_TO_ACCEPT_JOB_ORDER,
  UNKNOWN_JOB_ORDER_ID,
} from "./mod.ts";

// The expectations below are written from jobs-anchors.md §1.2-1.3 (OPC 10031-4 Table 14 and the
// substate machines), not from transitions.ts, so a wrong table entry fails a test.

/** Every leaf a job can be in, InitialState meaning "no record". */
const LEAVES = [
  "InitialState",
  "NotAllowedToStart/Waiting",
  "NotAllowedToStart/Ready",
  "NotAllowedToStart/Loaded",
  "AllowedToStart/Waiting",
  "AllowedToStart/Ready",
  "AllowedToStart/Loaded",
  "Running",
  "Interrupted/Held",
  "Interrupted/Suspended",
  "Ended/Completed",
  "Ended/Closed",
  "Aborted",
  "EndState",
];

const METHODS = [
  "Store",
  "StoreAndStart",
  "Update",
  "Start",
  "RevokeStart",
  "Pause",
  "Resume",
  "Stop",
  "Abort",
  "Cancel",
  "Clear",
];

const INTERNAL = [
  "FromAllowedToStartToRunning",
  "FromRunningToInterrupted",
  "FromRunningToEnded",
  "FromWaitingToReady",
  "FromReadyToLoaded",
  "FromReadyToWaiting",
  "FromLoadedToReady",
  "FromLoadedToWaiting",
  "FromHeldToSuspended",
  "FromSuspendedToHeld",
  "FromCompletedToClosed",
];

/**
 * Allowed transitions: from, event, to, spec TransitionNumber ("-" = dotted, no number).
 * `State/*` is every substate of State; a target `State/*` keeps the source's substate.
 */
const ALLOWED = `
InitialState              Store                        NotAllowedToStart/Ready  -
InitialState              StoreAndStart                AllowedToStart/Ready     -
NotAllowedToStart/*       Update                       NotAllowedToStart/*      1
NotAllowedToStart/*       Start                        AllowedToStart/*         2
AllowedToStart/*          RevokeStart                  NotAllowedToStart/*      3
AllowedToStart/*          Update                       AllowedToStart/*         4
AllowedToStart/*          FromAllowedToStartToRunning  Running                  5
Running                   Pause                        Interrupted/Suspended    6
Running                   FromRunningToInterrupted     Interrupted/Held         6
Running                   Stop                         Ended/Completed          7
Running                   FromRunningToEnded           Ended/Completed          7
Running                   Abort                        Aborted                  8
Interrupted/*             Abort                        Aborted                  9
Interrupted/*             Resume                       Running                  10
Interrupted/*             Stop                         Ended/Completed          11
NotAllowedToStart/*       Abort                        Aborted                  12
AllowedToStart/*          Abort                        Aborted                  13
NotAllowedToStart/*       Cancel                       EndState                 -
AllowedToStart/*          Cancel                       EndState                 -
Ended/*                   Clear                        EndState                 -
Aborted                   Clear                        EndState                 -
NotAllowedToStart/Waiting FromWaitingToReady           NotAllowedToStart/Ready   1
NotAllowedToStart/Ready   FromReadyToLoaded            NotAllowedToStart/Loaded  2
NotAllowedToStart/Ready   FromReadyToWaiting           NotAllowedToStart/Waiting 3
NotAllowedToStart/Loaded  FromLoadedToReady            NotAllowedToStart/Ready   4
NotAllowedToStart/Loaded  FromLoadedToWaiting          NotAllowedToStart/Waiting 5
AllowedToStart/Waiting    FromWaitingToReady           AllowedToStart/Ready      1
AllowedToStart/Ready      FromReadyToLoaded            AllowedToStart/Loaded     2
AllowedToStart/Ready      FromReadyToWaiting           AllowedToStart/Waiting    3
AllowedToStart/Loaded     FromLoadedToReady            AllowedToStart/Ready      4
AllowedToStart/Loaded     FromLoadedToWaiting          AllowedToStart/Waiting    5
Interrupted/Held          FromHeldToSuspended          Interrupted/Suspended     1
Interrupted/Suspended     FromSuspendedToHeld          Interrupted/Held          2
Ended/Completed           FromCompletedToClosed        Ended/Closed              1
`;

interface Expected {
  to: string;
  number: number | null;
}

/** (leaf, event) -> expected target, with the wildcards expanded. */
function expectedAllowed(): Map<string, Expected> {
  const expected = new Map<string, Expected>();
  for (const line of ALLOWED.trim().split("\n")) {
    const [from, event, to, number] = line.trim().split(/\s+/);
    const sources = from.endsWith("/*")
      ? LEAVES.filter((leaf) => leaf.startsWith(from.slice(0, -1)))
      : [from];
    for (const source of sources) {
      const target = to.endsWith("/*") ? to.slice(0, -1) + source.split("/")[1] : to;
      const key = `${source} ${event}`;
      assert.ok(!expected.has(key), `duplicate expectation ${key}`);
      expected.set(key, { to: target, number: number === "-" ? null : Number(number) });
    }
  }
  return expected;
}

const EXPECTED = expectedAllowed();

/** The status a refusal must carry, from the ReturnStatus meanings in Annex B.2. */
function expectedRefusal(leaf: string, event: string): ReturnStatus {
  const storing = event === "Store" || event === "StoreAndStart";
  if (leaf === "InitialState") return UNKNOWN_JOB_ORDER_ID;
  if (storing) return UNABLE_TO_ACCEPT_JOB_ORDER; // the ID is taken, also in EndState
  if (leaf === "EndState") return UNKNOWN_JOB_ORDER_ID; // no longer in the JobOrderList
  return INVALID_JOB_ORDER_STATUS;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

const STORED_AT = "2026-05-01T08:00:00.000Z";
const NOW = new Date("2026-05-01T09:30:00.000Z");

function jobAt(leaf: string): Job | undefined {
  if (leaf === "InitialState") return undefined;
  const [state, substate] = leaf.split("/");
  return deepFreeze({
    order: {
      JobOrderID: "JO-1",
      Priority: 5,
      StartTime: "2026-05-01T10:00:00Z",
      EndTime: "2026-05-01T12:00:00Z",
      MaterialRequirements: [{ MaterialDefinitionID: "M-1", Quantity: "3" }],
    },
    state,
    substate: substate ?? null,
    storedAt: STORED_AT,
    updatedAt: STORED_AT,
  } as Job);
}

const NEW_ORDER = {
  JobOrderID: "JO-1",
  Priority: 9,
  EquipmentRequirements: [{ ID: "press-2" }],
};

function argsFor(event: string): MethodArgs {
  const comment = [{ Locale: "en", Text: `${event} by test` }];
  const takesOrder = event === "Store" || event === "StoreAndStart" || event === "Update";
  return deepFreeze(
    takesOrder
      ? { JobOrder: NEW_ORDER, Comment: comment }
      : { JobOrderID: "JO-1", Comment: comment },
  );
}

function leafOf(job: Job): string {
  return job.substate === null ? job.state : `${job.state}/${job.substate}`;
}

Deno.test("the module knows exactly the leaves and events of the reference", () => {
  const moduleLeaves = LEAF_STATES.map((path) =>
    path.substate === null ? path.state : `${path.state}/${path.substate}`
  );
  assert.deepEqual(["InitialState", ...moduleLeaves], LEAVES);
  assert.deepEqual([...JOB_EVENTS], [...METHODS, ...INTERNAL]);
});

for (const leaf of LEAVES) {
  for (const event of JOB_EVENTS) {
    const expected = EXPECTED.get(`${leaf} ${event}`);
    const title = expected
      ? `${event} from ${leaf} leads to ${expected.to}`
      : `${event} from ${leaf} is refused and changes nothing`;
    Deno.test(title, () => {
      const job = jobAt(leaf);
      const before = structuredClone(job);
      const result = applyMethod(job, event, argsFor(event), NOW);
      assert.deepEqual(job, before, "the input job must not change");
      if (!expected) {
        assert.equal(result.ok, false);
        assert.equal(result.status, expectedRefusal(leaf, event));
        assert.ok(!("job" in result));
        return;
      }
      assert.ok(result.ok, `expected success, got ${result.status}`);
      assert.equal(result.status, NO_ERROR);
      assert.equal(leafOf(result.job), expected.to);
      assert.equal(result.transition.event, event);
      assert.equal(result.transition.number, expected.number);
      assert.equal(result.transition.specEvent, expected.number !== null);
      assert.equal(result.transition.name, expectedName(leaf, event, expected));
      assert.equal(result.job.updatedAt, NOW.toISOString());
      assert.equal(result.job.storedAt, job ? STORED_AT : NOW.toISOString());
      const newOrder = event === "Store" || event === "StoreAndStart" || event === "Update";
      assert.deepEqual(result.job.order, newOrder ? NEW_ORDER : job!.order);
      assert.deepEqual(result.transition.comment, argsFor(event).Comment);
    });
  }
}

/** Spec names: From<top>To<top>, From<sub>To<sub> inside one state, the method when dotted. */
function expectedName(leaf: string, event: string, expected: Expected): string {
  if (expected.number === null) return event;
  const [fromState, fromSub] = leaf.split("/");
  const [toState, toSub] = expected.to.split("/");
  const substateMove = fromState === toState && fromSub !== toSub;
  return substateMove ? `From${fromSub}To${toSub}` : `From${fromState}To${toState}`;
}

Deno.test("every cell of the transition table agrees with the reference", () => {
  for (const state of TABLE_STATES) {
    const leaves = LEAVES.filter((leaf) => leaf === state || leaf.startsWith(`${state}/`));
    for (const event of JOB_EVENTS) {
      const cell = TRANSITION_TABLE[state][event];
      if (isRule(cell)) {
        const from = leaves.filter((leaf) =>
          cell.fromSubstate === undefined || leaf === `${state}/${cell.fromSubstate}`
        );
        assert.ok(from.length > 0, `${state} ${event}: no leaf has substate ${cell.fromSubstate}`);
        for (const leaf of from) {
          assert.ok(EXPECTED.has(`${leaf} ${event}`), `${leaf} ${event} should be refused`);
        }
      } else {
        for (const leaf of leaves) {
          assert.ok(!EXPECTED.has(`${leaf} ${event}`), `${leaf} ${event} should be allowed`);
          assert.equal(cell, expectedRefusal(leaf, event), `${leaf} ${event}`);
        }
      }
    }
  }
});

Deno.test("allowedEvents lists exactly the expected events for every leaf", () => {
  for (const leaf of LEAVES) {
    const expected = JOB_EVENTS.filter((event) => EXPECTED.has(`${leaf} ${event}`));
    assert.deepEqual(allowedEvents(jobAt(leaf), JOB_EVENTS), expected, leaf);
  }
});

Deno.test("only Ended and Aborted job orders are clearable; only EndState is unlisted", () => {
  for (const leaf of LEAVES.slice(1)) {
    const job = jobAt(leaf)!;
    assert.equal(isClearable(job), EXPECTED.has(`${leaf} Clear`), leaf);
    assert.equal(isClearable(job), /^(Ended|Aborted)/.test(leaf), leaf);
    assert.equal(isListed(job), leaf !== "EndState", leaf);
  }
});

Deno.test("a job order runs from Store to Clear driven by the MES and the DCS", () => {
  const steps: Array<[JobEvent, string]> = [
    ["Store", "NotAllowedToStart/Ready"],
    ["FromReadyToLoaded", "NotAllowedToStart/Loaded"],
    ["Start", "AllowedToStart/Loaded"],
    ["FromAllowedToStartToRunning", "Running"],
    ["FromRunningToInterrupted", "Interrupted/Held"],
    ["FromHeldToSuspended", "Interrupted/Suspended"],
    ["Resume", "Running"],
    ["FromRunningToEnded", "Ended/Completed"],
    ["FromCompletedToClosed", "Ended/Closed"],
    ["Clear", "EndState"],
  ];
  let job: Job | undefined;
  for (const [event, leaf] of steps) {
    const result = applyMethod(job, event, argsFor(event), NOW);
    assert.ok(result.ok, `${event}: ${!result.ok && result.reason}`);
    assert.equal(leafOf(result.job), leaf);
    job = result.job;
  }
});

Deno.test("Update replaces the order and keeps the prepare substate", () => {
  const result = applyMethod(jobAt("AllowedToStart/Waiting"), "Update", argsFor("Update"), NOW);
  assert.ok(result.ok);
  assert.equal(result.job.substate, "Waiting");
  assert.deepEqual(result.job.order, NEW_ORDER);
});

Deno.test("Store keeps its own copy of the job order", () => {
  const order = { JobOrderID: "JO-2", MaterialRequirements: [{ MaterialLotID: "L-1" }] };
  const comment = [{ Locale: "en", Text: "new" }];
  const result = applyMethod(undefined, "Store", { JobOrder: order, Comment: comment }, NOW);
  order.MaterialRequirements[0].MaterialLotID = "changed";
  comment[0].Text = "changed";
  assert.ok(result.ok);
  assert.deepEqual(result.job.order.MaterialRequirements, [{ MaterialLotID: "L-1" }]);
  assert.deepEqual(result.transition.comment, [{ Locale: "en", Text: "new" }]);
  assert.equal(result.transition.from, null);
});

Deno.test("only Store, StoreAndStart and Update read the JobOrder argument", () => {
  const job = jobAt("NotAllowedToStart/Ready");
  const args = { JobOrderID: "JO-1", JobOrder: { JobOrderID: "JO-9", Priority: 1 } };
  const result = applyMethod(job, "Start", args, NOW);
  assert.ok(result.ok);
  assert.deepEqual(result.job.order, job!.order);
});

const INVALID_REQUESTS: Array<[string, Job | undefined, string, unknown]> = [
  ["an unknown method such as microdcs's End", jobAt("Running"), "End", { JobOrderID: "JO-1" }],
  ["a method without a JobOrderID", jobAt("Running"), "Stop", {}],
  ["an empty JobOrderID", jobAt("Running"), "Stop", { JobOrderID: "" }],
  ["Store without a JobOrder", undefined, "Store", { JobOrderID: "JO-1" }],
  ["a JobOrder without an ID", undefined, "Store", { JobOrder: { Priority: 1 } }],
  ["a Priority that is not an integer", undefined, "Store", {
    JobOrder: { JobOrderID: "JO-1", Priority: 1.5 },
  }],
  ["a StartTime that is not a date-time", undefined, "Store", {
    JobOrder: { JobOrderID: "JO-1", StartTime: "tomorrow" },
  }],
  ["an EndTime before the StartTime", undefined, "StoreAndStart", {
    JobOrder: {
      JobOrderID: "JO-1",
      StartTime: "2026-05-02T00:00:00Z",
      EndTime: "2026-05-01T00:00:00Z",
    },
  }],
  ["requirements that are not arrays", undefined, "Store", {
    JobOrder: { JobOrderID: "JO-1", MaterialRequirements: { ID: "M" } },
  }],
  ["a Comment that is not LocalizedText[]", jobAt("Running"), "Pause", {
    JobOrderID: "JO-1",
    Comment: "because",
  }],
  ["an ID that is not the record's", jobAt("Running"), "Stop", { JobOrderID: "JO-9" }],
  ["an Update for another ID", jobAt("NotAllowedToStart/Ready"), "Update", {
    JobOrder: { JobOrderID: "JO-9" },
  }],
  ["arguments that are not an object", jobAt("Running"), "Stop", null],
];

for (const [what, job, method, args] of INVALID_REQUESTS) {
  Deno.test(`${what} is an Invalid request and changes nothing`, () => {
    const before = structuredClone(job);
    const result = applyMethod(job, method, args as MethodArgs, NOW);
    assert.equal(result.ok, false);
    assert.equal(result.status, INVALID_REQUEST);
    assert.equal(result.status, 4294967296n);
    assert.ok(!result.ok && result.reason.length > 0);
    assert.deepEqual(job, before);
  });
}

Deno.test("a refusal says what could not be done and why", () => {
  const result = applyMethod(jobAt("Running"), "Clear", { JobOrderID: "JO-1" }, NOW);
  assert.deepEqual(result, {
    ok: false,
    status: INVALID_JOB_ORDER_STATUS,
    reason: "Clear is not allowed for JO-1 in Running",
  });
});
