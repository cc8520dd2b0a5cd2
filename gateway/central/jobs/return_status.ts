/**
 * ReturnStatus of the ISA-95 job control methods (OPC 10031-4 v2, Annex B.2 Table 95): a UInt64
 * bit mask, bit 0 the least significant. Held as `bigint` everywhere because "Invalid request" is
 * bit 32 and bits 33-63 are implementation-specific: in JavaScript `1 << 32 === 1`, and numbers
 * above 2^53 lose bits.
 *
 * On the wire (CloudEvent `data`, never a CloudEvent attribute, which is a signed 32-bit Integer)
 * {@linkcode returnStatusToJson} gives a JSON number while the value is a safe integer (every
 * flag the spec defines, and what microdcs clients parse) and the decimal string that OPC UA's
 * JSON encoding (Part 6) uses for UInt64 beyond that, so no bit is ever lost.
 * {@linkcode parseReturnStatus} reads either back.
 *
 * @example
 * ```ts
 * const status = combineReturnStatus(INVALID_JOB_ORDER_STATUS, INVALID_REQUEST);
 * describeReturnStatus(status); // ["Invalid Job Order Status", "Invalid request"]
 * ```
 *
 * @module
 */

/** Bit 0: the method ran. */
export const NO_ERROR = 1n;
/** Bit 1: no job order with that JobOrderID is in the JobOrderList. */
export const UNKNOWN_JOB_ORDER_ID = 1n << 1n;
/** Bit 3: the job order's state does not allow the method. */
export const INVALID_JOB_ORDER_STATUS = 1n << 3n;
/** Bit 4: the receiver cannot accept the job order (duplicate ID, capacity, unknown resources). */
export const UNABLE_TO_ACCEPT_JOB_ORDER = 1n << 4n;
/** Bit 32 (4294967296): the request itself is malformed (missing or invalid arguments). */
export const INVALID_REQUEST = 1n << 32n;

/** The largest UInt64. */
export const UINT64_MAX = (1n << 64n) - 1n;

/** The flags Table 95 names, in bit order, with the spec's wording. */
export const RETURN_STATUS_FLAGS: ReadonlyArray<{ readonly bit: bigint; readonly name: string }> = [
  { bit: NO_ERROR, name: "No Error" },
  { bit: UNKNOWN_JOB_ORDER_ID, name: "Unknown Job Order ID" },
  { bit: INVALID_JOB_ORDER_STATUS, name: "Invalid Job Order Status" },
  { bit: UNABLE_TO_ACCEPT_JOB_ORDER, name: "Unable to accept Job Order" },
  { bit: INVALID_REQUEST, name: "Invalid request" },
];

/** A ReturnStatus: a UInt64 bit mask as a bigint. */
export type ReturnStatus = bigint;

/** Whether `value` is a bigint in the UInt64 range. */
export function isReturnStatus(value: unknown): value is ReturnStatus {
  return typeof value === "bigint" && value >= 0n && value <= UINT64_MAX;
}

/** ORs flags into one ReturnStatus; throws a RangeError on a value outside UInt64. */
export function combineReturnStatus(...flags: ReturnStatus[]): ReturnStatus {
  let mask = 0n;
  for (const flag of flags) {
    if (!isReturnStatus(flag)) throw new RangeError(`ReturnStatus ${flag} is not a UInt64`);
    mask |= flag;
  }
  return mask;
}

/** Whether every bit of `flag` is set in `status`. */
export function hasReturnStatus(status: ReturnStatus, flag: ReturnStatus): boolean {
  return flag !== 0n && (status & flag) === flag;
}

/** Whether `status` reports success and nothing else. */
export function isSuccess(status: ReturnStatus): boolean {
  return status === NO_ERROR;
}

/**
 * Names the bits of a ReturnStatus for logs and docs: the spec's wording for the named flags,
 * "reserved bit N" for bits 2 and 5-31 (bit 2 was v1's "Invalid Job Order Command", dropped in
 * v2) and "implementation-specific bit N" for bits 33-63.
 */
export function describeReturnStatus(status: ReturnStatus): string[] {
  if (!isReturnStatus(status)) throw new RangeError(`ReturnStatus ${status} is not a UInt64`);
  const names: string[] = [];
  for (let bit = 0n; bit < 64n; bit++) {
    const flag = 1n << bit;
    if ((status & flag) === 0n) continue;
    const known = RETURN_STATUS_FLAGS.find((entry) => entry.bit === flag);
    if (known) names.push(known.name);
    else if (bit > 32n) names.push(`implementation-specific bit ${bit}`);
    else names.push(`reserved bit ${bit}`);
  }
  return names;
}

/**
 * The JSON value for a ReturnStatus: a number while it is a safe integer, else its decimal string
 * (OPC UA JSON encoding of UInt64).
 */
export function returnStatusToJson(status: ReturnStatus): number | string {
  if (!isReturnStatus(status)) throw new RangeError(`ReturnStatus ${status} is not a UInt64`);
  return status <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(status) : status.toString(10);
}

/**
 * Reads a ReturnStatus from JSON (a non-negative safe integer or a decimal string) or a bigint;
 * throws a RangeError naming the value when it is anything else or outside UInt64.
 */
export function parseReturnStatus(value: unknown): ReturnStatus {
  let status: bigint | undefined;
  if (typeof value === "bigint") status = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) status = BigInt(value);
  else if (typeof value === "string" && /^[0-9]{1,20}$/.test(value)) status = BigInt(value);
  if (status === undefined || !isReturnStatus(status)) {
    throw new RangeError(`Cannot read ReturnStatus ${JSON.stringify(String(value))}: not a UInt64`);
  }
  return status;
}
