/**
 * The DCS message formats (plain JSON; contract in `DCS.md`): commands the centre sends a DCS
 * (`plant/<plant>/dcs/<scope>/jobs/commands`) and the events a DCS reports
 * (`plant/<plant>/dcs/<scope>/jobs/events`), with validators whose errors name the field. Pure:
 * the edge validates events before buffering them, the centre validates both again.
 *
 * @module
 */
import { isUuid, uuidV5 } from "../../core/uuid.ts";
import { checkJobOrder, type JobOrder } from "./job_order.ts";
import type { JobResponse } from "./store.ts";
import { INTERNAL_TRANSITIONS, type JobEvent } from "./transitions.ts";

/** What the centre may ask a DCS to do. */
export const DCS_ACTIONS = ["Run", "Abort", "Pause", "Resume"] as const;

/** A DCS command action. */
export type DcsAction = typeof DCS_ACTIONS[number];

/**
 * Methods a DCS may report having caused itself (an operator aborting at the machine, a
 * pause at the panel), besides the spec's internal transitions.
 */
export const DCS_METHODS = ["Abort", "Pause", "Resume", "Stop"] as const;

/** Every transition a DCS event may carry. */
export const DCS_TRANSITIONS: readonly JobEvent[] = [...INTERNAL_TRANSITIONS, ...DCS_METHODS];

/** A command down to a DCS. */
export interface DcsCommand {
  /** UUID; the JetStream `Nats-Msg-Id`. */
  commandId: string;
  jobOrderId: string;
  scope: string;
  action: DcsAction;
  /** The whole job order, sent with `Run`. */
  jobOrder?: JobOrder;
  /** ISO 8601 UTC. */
  issuedAt: string;
}

/** An event up from a DCS. */
export interface DcsEvent {
  /** UUID, deterministic from the DCS's own keys ({@linkcode dcsEventId}). */
  eventId: string;
  scope: string;
  jobOrderId: string;
  /** An internal transition or a method the DCS caused ({@linkcode DCS_TRANSITIONS}). */
  transition: JobEvent;
  /** Process data; stored before the transition is applied. */
  response?: JobResponse;
  /** When it happened at the machine, ISO 8601 with offset. */
  at: string;
}

/** A DCS message that is not valid; `field` names the offending field. */
export class DcsMessageError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

const SCOPE = /^[A-Za-z0-9_-]{1,64}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** The deterministic id of a DCS event: the same keys (a re-send) give the same id. */
export function dcsEventId(
  plantId: string,
  scope: string,
  keys: { jobOrderId: string; transition: string; run: string },
): string {
  return uuidV5(`dcs/${plantId}/${scope}/${keys.jobOrderId}/${keys.run}/${keys.transition}`);
}

/** Validates a command; throws {@linkcode DcsMessageError}. */
export function parseDcsCommand(value: unknown): DcsCommand {
  const o = object(value);
  uuid(o, "commandId");
  text(o, "jobOrderId");
  scope(o);
  if (!(DCS_ACTIONS as readonly unknown[]).includes(o.action)) {
    throw new DcsMessageError("action", `must be one of ${DCS_ACTIONS.join(", ")}`);
  }
  if (o.jobOrder !== undefined) {
    const invalid = checkJobOrder(o.jobOrder);
    if (invalid !== null) throw new DcsMessageError("jobOrder", invalid);
    if ((o.jobOrder as JobOrder).JobOrderID !== o.jobOrderId) {
      throw new DcsMessageError("jobOrder.JobOrderID", "must equal jobOrderId");
    }
  }
  time(o, "issuedAt");
  return o as unknown as DcsCommand;
}

/** Validates an event; throws {@linkcode DcsMessageError}. */
export function parseDcsEvent(value: unknown): DcsEvent {
  const o = object(value);
  uuid(o, "eventId");
  scope(o);
  text(o, "jobOrderId");
  if (!(DCS_TRANSITIONS as readonly unknown[]).includes(o.transition)) {
    throw new DcsMessageError(
      "transition",
      `must be an internal transition or one of ${DCS_METHODS.join(", ")}, got ${
        JSON.stringify(o.transition)
      }`,
    );
  }
  if (o.response !== undefined) {
    const r = object(o.response, "response");
    text(r, "JobResponseID", "response.");
    text(r, "JobOrderID", "response.");
    if (r.JobOrderID !== o.jobOrderId) {
      throw new DcsMessageError("response.JobOrderID", "must equal jobOrderId");
    }
  }
  time(o, "at");
  return o as unknown as DcsEvent;
}

type Obj = Record<string, unknown>;

function object(value: unknown, field = "(message)"): Obj {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new DcsMessageError(field, "must be a JSON object");
  }
  return value as Obj;
}

function text(o: Obj, field: string, prefix = ""): void {
  if (typeof o[field] !== "string" || o[field] === "") {
    throw new DcsMessageError(prefix + field, "is missing or not a non-empty string");
  }
}

function uuid(o: Obj, field: string): void {
  text(o, field);
  if (!isUuid(o[field] as string)) throw new DcsMessageError(field, "must be a UUID");
}

function scope(o: Obj): void {
  if (typeof o.scope !== "string" || !SCOPE.test(o.scope)) {
    throw new DcsMessageError("scope", "must be 1-64 letters, digits, _ or -");
  }
}

function time(o: Obj, field: string): void {
  text(o, field);
  if (!ISO_TIME.test(o[field] as string) || Number.isNaN(Date.parse(o[field] as string))) {
    throw new DcsMessageError(field, "must be an ISO 8601 date-time with a zone");
  }
}
