/**
 * The job order state machine of OPC 40001-3 / OPC 10031-4 v2 (ISA-95 Job Control), pure and
 * table-driven: {@linkcode applyMethod} takes a job order record (or `undefined` for an unknown
 * ID), an event and its arguments, and returns the next record with ReturnStatus "No Error", or
 * only the ReturnStatus when the spec refuses it, changing nothing. No I/O, no clock: the caller
 * passes `now`. The Redis DAO, the processor and the publisher build on it.
 *
 * The order of checks follows the spec's ReturnStatus meanings: an unknown event name or
 * malformed arguments give "Invalid request" (bit 32); an ID that is not in the JobOrderList
 * gives "Unknown Job Order ID"; a taken ID given to Store/StoreAndStart gives "Unable to accept
 * Job Order"; a state that does not allow the event gives "Invalid Job Order Status".
 *
 * Gaps of the reference implementation (microdcs; jobs-anchors.md §1.4, §4.6) covered here:
 * - Store/StoreAndStart of an existing JobOrderID returns "Unable to accept Job Order" instead of
 *   silently resetting the job (§4.6 item 8, §1.4), also after Clear/Cancel while the record is kept.
 * - Update is a self-transition that keeps the substate instead of collapsing it to Ready (§1.4).
 * - DCS-driven transitions have exactly the spec's names; an unknown name such as microdcs's `End`
 *   is "Invalid request", never a silent no-op that leaves a finished job Running (§4.6 item 2).
 * - Substate numbers are the spec's local ones and substate entries carry a BrowsePath (§0.1, §1.4).
 * - Every success says which transition ran and whether it is a spec transition with a status
 *   event (dotted ones are not), and {@linkcode isListed} tells the DAO which records count
 *   against MaxDownloadableJobOrders and the state-index (EndState ones do not, §4.6 item 5).
 *   `updatedAt` of an EndState record is when it left the list, for the DAO's purge.
 * - Entering Ended/Aborted is visible from `transition.to`, so the publisher can publish the
 *   result on the transition rather than only on ResultUpdate (§4.6 item 1, fixed there).
 *
 * @example
 * ```ts
 * const now = new Date("2026-05-01T10:00:00Z");
 * const stored = applyMethod(undefined, "Store", { JobOrder: { JobOrderID: "JO-1" } }, now);
 * if (stored.ok) applyMethod(stored.job, "Start", { JobOrderID: "JO-1" }, now);
 * ```
 *
 * @module
 */
import { checkArgs, type JobOrder, type MethodArgs, requestedId } from "./job_order.ts";
import { INVALID_JOB_ORDER_STATUS, INVALID_REQUEST, NO_ERROR } from "./return_status.ts";
import type { ReturnStatus } from "./return_status.ts";
import {
  CLEARABLE_STATES,
  type Isa95State,
  type JobState,
  leafName,
  type LocalizedText,
  type StatePath,
  type Substate,
  toStateArray,
} from "./states.ts";
import {
  isJobEvent,
  isRule,
  type JobEvent,
  lookup,
  ORDER_EVENTS,
  type Rule,
  type TransitionMachine,
} from "./transitions.ts";

/** A stored job order (ISA95JobOrderAndStateDataType plus bookkeeping). */
export interface Job {
  /** The order as last stored or updated. */
  readonly order: Readonly<JobOrder>;
  readonly state: JobState;
  /** null exactly for Running, Aborted and EndState. */
  readonly substate: Substate | null;
  /** When Store/StoreAndStart accepted it (ISO 8601 UTC). */
  readonly storedAt: string;
  /** When the last transition ran (ISO 8601 UTC). */
  readonly updatedAt: string;
}

/** What ran, for the change stream, the status event and the audit log. */
export interface TransitionInfo {
  /** The method or internal transition: the change stream's `change_type`. */
  readonly event: JobEvent;
  readonly machine: TransitionMachine;
  /** The spec's transition name, e.g. "FromRunningToEnded"; the method name when dotted. */
  readonly name: string;
  /** TransitionNumber local to `machine`; null for dotted transitions. */
  readonly number: number | null;
  /** Whether the spec defines an ISA95JobOrderStatusEventType for it (not for dotted ones). */
  readonly specEvent: boolean;
  /** null when the job order did not exist before (Store, StoreAndStart). */
  readonly from: StatePath | null;
  readonly to: StatePath;
  /** The caller's Comment, kept for the audit log. */
  readonly comment: readonly LocalizedText[];
}

/** The outcome of {@linkcode applyMethod}. */
export type ApplyResult =
  | { ok: true; job: Job; status: ReturnStatus; transition: TransitionInfo }
  | { ok: false; status: ReturnStatus; reason: string };

/**
 * Applies a method or internal transition to a job order. `job` is the stored record for the
 * requested ID, or `undefined` when there is none. On refusal nothing is changed: the result
 * holds only the ReturnStatus and a reason for the log line. The input is never mutated; the
 * JobOrder given to Store/StoreAndStart/Update is copied.
 */
export function applyMethod(
  job: Job | undefined,
  method: string,
  args: MethodArgs,
  now: Date,
): ApplyResult {
  if (!isJobEvent(method)) return refuse(INVALID_REQUEST, `unknown method "${method}"`);
  const takesOrder = ORDER_EVENTS.has(method);
  const invalid = checkArgs(args, takesOrder);
  if (invalid !== null) return refuse(INVALID_REQUEST, `${method}: ${invalid}`);
  const id = requestedId(args, takesOrder);
  if (job && job.order.JobOrderID !== id) {
    return refuse(INVALID_REQUEST, `${method}: record ${job.order.JobOrderID} is not ${id}`);
  }
  const cell = lookup(job ? job.state : "InitialState", method);
  const from = job ? leafName(job) : "InitialState";
  if (!isRule(cell)) return refuse(cell, `${method} is not allowed for ${id} in ${from}`);
  if (cell.fromSubstate !== undefined && job?.substate !== cell.fromSubstate) {
    return refuse(INVALID_JOB_ORDER_STATUS, `${method} is not allowed for ${id} in ${from}`);
  }
  return transition(job, method, args, cell, now);
}

function transition(
  job: Job | undefined,
  event: JobEvent,
  args: MethodArgs,
  rule: Rule,
  now: Date,
): ApplyResult {
  const at = now.toISOString();
  const substate = rule.toSubstate === "keep" ? job?.substate ?? null : rule.toSubstate;
  // Only Store/StoreAndStart start without a record, and they carry a JobOrder.
  const order = ORDER_EVENTS.has(event) ? structuredClone(args.JobOrder) : job?.order;
  if (!order) throw new TypeError(`${event}: no job order to apply it to`);
  const next: Job = {
    order,
    state: rule.to,
    substate,
    storedAt: job?.storedAt ?? at,
    updatedAt: at,
  };
  const info: TransitionInfo = {
    event,
    machine: rule.machine,
    name: rule.name,
    number: rule.number,
    specEvent: rule.machine !== "Dotted",
    from: job ? { state: job.state, substate: job.substate } : null,
    to: { state: next.state, substate: next.substate },
    comment: structuredClone(args.Comment ?? []),
  };
  return { ok: true, job: next, status: NO_ERROR, transition: info };
}

function refuse(status: ReturnStatus, reason: string): ApplyResult {
  return { ok: false, status, reason };
}

/** Whether Clear may remove the job order: it is Ended (any substate) or Aborted. */
export function isClearable(job: Job): boolean {
  return CLEARABLE_STATES.has(job.state);
}

/**
 * Whether the job order is in the JobOrderList: every state but EndState. Only listed orders
 * count against MaxDownloadableJobOrders and appear in the state-index.
 */
export function isListed(job: Job): boolean {
  return job.state !== "EndState";
}

/** The events the table allows for this job order right now (all checks but the arguments). */
export function allowedEvents(job: Job | undefined, events: readonly JobEvent[]): JobEvent[] {
  return events.filter((event) => {
    const cell = lookup(job ? job.state : "InitialState", event);
    return isRule(cell) && (cell.fromSubstate === undefined || cell.fromSubstate === job?.substate);
  });
}

/** The job order's `State` array (ISA95StateDataType[]) for the MES. */
export function jobStateArray(job: Job, locale?: string): Isa95State[] {
  return toStateArray({ state: job.state, substate: job.substate }, locale);
}
