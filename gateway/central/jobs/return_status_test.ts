import assert from "node:assert/strict";
import {
  combineReturnStatus,
  describeReturnStatus,
  hasReturnStatus,
  INVALID_JOB_ORDER_STATUS,
  INVALID_REQUEST,
  isSuccess,
  NO_ERROR,
  parseReturnStatus,
  returnStatusToJson,
  UINT64_MAX,
  UNABLE_TO_ACCEPT_JOB_ORDER,
  UNKNOWN_JOB_ORDER_ID,
} from "./return_status.ts";

Deno.test("the named flags have the values of Annex B.2 Table 95", () => {
  assert.equal(NO_ERROR, 1n);
  assert.equal(UNKNOWN_JOB_ORDER_ID, 2n);
  assert.equal(INVALID_JOB_ORDER_STATUS, 8n);
  assert.equal(UNABLE_TO_ACCEPT_JOB_ORDER, 16n);
  assert.equal(INVALID_REQUEST, 4294967296n);
  assert.equal(INVALID_REQUEST, BigInt(2 ** 32));
  assert.notEqual(INVALID_REQUEST, BigInt(1 << 32)); // the trap this module avoids
});

Deno.test("flags combine, test and describe, including bits above 32", () => {
  const status = combineReturnStatus(INVALID_JOB_ORDER_STATUS, INVALID_REQUEST, 1n << 40n);
  assert.equal(status, 8n + 2n ** 32n + 2n ** 40n);
  assert.ok(hasReturnStatus(status, INVALID_REQUEST));
  assert.ok(!hasReturnStatus(status, UNKNOWN_JOB_ORDER_ID));
  assert.ok(!isSuccess(status));
  assert.ok(isSuccess(NO_ERROR));
  assert.deepEqual(describeReturnStatus(status), [
    "Invalid Job Order Status",
    "Invalid request",
    "implementation-specific bit 40",
  ]);
  assert.deepEqual(describeReturnStatus(4n | 32n), ["reserved bit 2", "reserved bit 5"]);
  assert.deepEqual(describeReturnStatus(0n), []);
  assert.throws(() => combineReturnStatus(UINT64_MAX + 1n), RangeError);
  assert.throws(() => combineReturnStatus(-1n), RangeError);
});

const ROUND_TRIP = [
  NO_ERROR,
  INVALID_REQUEST,
  INVALID_REQUEST | INVALID_JOB_ORDER_STATUS,
  2n ** 33n + 1n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 63n | UNABLE_TO_ACCEPT_JOB_ORDER,
  UINT64_MAX,
];

for (const status of ROUND_TRIP) {
  Deno.test(`ReturnStatus ${status} survives JSON unchanged`, () => {
    const wire = JSON.stringify({ ReturnStatus: returnStatusToJson(status) });
    const back = parseReturnStatus(JSON.parse(wire).ReturnStatus);
    assert.equal(back, status);
    const safe = status <= BigInt(Number.MAX_SAFE_INTEGER);
    assert.equal(typeof JSON.parse(wire).ReturnStatus, safe ? "number" : "string");
  });
}

Deno.test("Invalid request goes on the wire as the number 4294967296", () => {
  assert.equal(
    JSON.stringify({ ReturnStatus: returnStatusToJson(INVALID_REQUEST) }),
    '{"ReturnStatus":4294967296}',
  );
});

Deno.test("values that are not a UInt64 are refused when read", () => {
  for (
    const value of [-1, 1.5, 2 ** 60, "18446744073709551616", "0x10", "", null, undefined, -1n]
  ) {
    assert.throws(() => parseReturnStatus(value), RangeError, String(value));
  }
  assert.equal(parseReturnStatus("18446744073709551615"), UINT64_MAX);
  assert.equal(parseReturnStatus(8), INVALID_JOB_ORDER_STATUS);
});
