/**
 * The kinds of rows in the edge buffer, told apart by subject: canonical lot events
 * (`lots.events.`, kind `lot`) and DCS job events (`jobs.events.`, kind `dcs`). Per kind: its
 * validator, the fields `buffer list` shows, the `buffer export` line format and its parsing
 * for `buffer requeue`, and the row check of `buffer verify`.
 *
 * @module
 */
import { type DcsEvent, DcsMessageError, parseDcsEvent } from "../central/jobs/dcs_message.ts";
import { type CanonicalLotEvent, checkCanonicalEvent } from "../core/canonical_event.ts";
import { errorMessage } from "../core/errors.ts";
import { jobEventsSubject, lotEventsSubject } from "../io/jetstream.ts";
import type { BufferedEvent, Intake } from "./buffer.ts";
import { jobKey } from "./dcs.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** What a body that passed its kind's validator says about the row it belongs in. */
interface Sound {
  eventId: string;
  lotKey: string;
  /** What is wrong with `subject` for this body, or undefined. */
  subjectProblem(subject: string): string | undefined;
}

/** The kinds of buffered rows: subject prefix, schema name, validator (problems name fields). */
const KINDS = {
  lot: { prefix: "lots.events.", schema: "the canonical schema", validate: validateLot },
  dcs: { prefix: "jobs.events.", schema: "the DCS event schema (DCS.md)", validate: validateDcs },
} as const;

/** A kind of buffered row. */
type Kind = keyof typeof KINDS;

const KIND_NAMES = Object.keys(KINDS) as Kind[];

/** The kind of a row by its subject, or undefined for a subject of no known kind. */
export function kindOf(subject: string): Kind | undefined {
  return KIND_NAMES.find((kind) => subject.startsWith(KINDS[kind].prefix));
}

function validateLot(value: unknown): Sound | string {
  const check = checkCanonicalEvent(value);
  if (!check.ok) return `${check.message} (field "${check.field}")`;
  const event = value as CanonicalLotEvent;
  const subject = lotEventsSubject(event.plantId, event.sourceSystem);
  return {
    eventId: event.eventId,
    lotKey: `${event.plantId}/${event.sourceSystem}/${event.lotId}`,
    subjectProblem: (s) => s === subject ? undefined : `subject "${s}" should be "${subject}"`,
  };
}

function validateDcs(value: unknown): Sound | string {
  let event: DcsEvent;
  try {
    event = parseDcsEvent(value);
  } catch (error) {
    return error instanceof DcsMessageError ? error.message : errorMessage(error);
  }
  return {
    eventId: event.eventId,
    lotKey: jobKey(event.scope, event.jobOrderId),
    // The plant is only in the subject (a DCS event does not name it).
    subjectProblem(s) {
      const plant = s.split(".")[2] ?? "";
      return plant !== "" && s === jobEventsSubject(plant, event.scope)
        ? undefined
        : `subject "${s}" should be "${jobEventsSubject("<plant>", event.scope)}"`;
    },
  };
}

/** Counts per kind as text: "2 lot, 1 dcs, 1 unknown" (kinds with none left out). */
export function kindCounts(counts: Partial<Record<string, number>>): string {
  return [...KIND_NAMES, "unknown"].filter((k) => counts[k]).map((k) => `${counts[k]} ${k}`)
    .join(", ");
}

/** The lot id inside a lot key `<plant>/<system>/<lotId>` (plant and system hold no "/"). */
export function lotIdOf(lotKey: string): string {
  return lotKey.split("/").slice(2).join("/");
}

/** The job order id inside a job key `job:<scope>:<jobOrderId>` (a scope holds no ":"). */
export function jobOrderIdOf(lotKey: string): string {
  return lotKey.split(":").slice(2).join(":");
}

/** The body as a JSON object, or undefined when it is not JSON. */
function parseBody(e: BufferedEvent): Record<string, unknown> | undefined {
  try {
    return JSON.parse(utf8.decode(e.body));
  } catch {
    return undefined;
  }
}

/** The key fields `list` shows for a row of `kind` (a row of no known kind: its lot key). */
export function displayFields(e: BufferedEvent, kind: Kind | undefined): Record<string, string> {
  const body = parseBody(e);
  return kind === "lot"
    ? { eventType: String(body?.eventType ?? "(unreadable)"), lotId: lotIdOf(e.lotKey) }
    : kind === "dcs"
    ? {
      transition: String(body?.transition ?? "(unreadable)"),
      scope: e.lotKey.split(":")[1] ?? "",
      jobOrderId: jobOrderIdOf(e.lotKey),
    }
    : { lotKey: e.lotKey };
}

/** One row as an export line (kind, subject, receipt time, body), or why it cannot be. */
export function exportLine(e: BufferedEvent): { text: string } | { problem: string } {
  const kind = kindOf(e.subject);
  if (kind === undefined) return { problem: `subject "${e.subject}" is of no known kind` };
  let body: string;
  try {
    body = utf8.decode(e.body);
    const value = JSON.parse(body);
    // Bodies are written by JSON.stringify (one line); re-serialize anything else.
    if (/[\r\n]/.test(body)) body = JSON.stringify(value);
  } catch {
    return { problem: "body is not JSON" };
  }
  const head = { kind, subject: e.subject, receivedAt: new Date(e.receivedAt).toISOString() };
  // The body is embedded as stored, so the event is byte for byte the one forwarded.
  return { text: `${JSON.stringify(head).slice(0, -1)},"event":${body}}` };
}

/** A requeue line that passed its kind's checks. */
interface Line {
  kind: Kind;
  subject: string;
  event: Record<string, unknown>;
  sound: Sound;
  /** Edge receipt time from the line (ms since epoch), if it has one. */
  receivedAt?: number;
}

/**
 * One line checked by its kind: an export line (`{kind, subject, receivedAt?, event}`) or, as
 * exported before DCS rows existed, a bare canonical lot event. Returns the line or what is
 * wrong with it (with its kind when known).
 */
export function checkLine(text: string): Line | { kind?: Kind; problem: string } {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `not JSON: ${errorMessage(error)}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { problem: "not a JSON object" };
  }
  if (!("kind" in value)) return checkEvent("lot", value, undefined);
  const kind = value.kind;
  if (typeof kind !== "string" || !(KIND_NAMES as string[]).includes(kind)) {
    return {
      problem: `unknown kind ${JSON.stringify(kind)}: expected ${
        KIND_NAMES.map((k) => `"${k}"`).join(" or ")
      }`,
    };
  }
  const problem = (p: string) => ({ kind: kind as Kind, problem: p });
  if (typeof value.subject !== "string") return problem(`"subject" is missing or not a string`);
  let receivedAt: number | undefined;
  if (value.receivedAt !== undefined) {
    receivedAt = typeof value.receivedAt === "string" ? Date.parse(value.receivedAt) : NaN;
    if (Number.isNaN(receivedAt)) return problem(`"receivedAt" is not an ISO 8601 date-time`);
  }
  const line = checkEvent(kind as Kind, value.event, value.subject);
  return "problem" in line ? line : { ...line, receivedAt };
}

/** The event of a line checked by its kind, on `subject` (for a bare lot event: its own). */
function checkEvent(
  kind: Kind,
  event: unknown,
  subject: string | undefined,
): Line | { kind: Kind; problem: string } {
  const sound = KINDS[kind].validate(event);
  if (typeof sound === "string") return { kind, problem: sound };
  const e = event as Record<string, unknown>;
  subject ??= lotEventsSubject(String(e.plantId), String(e.sourceSystem));
  const wrongSubject = sound.subjectProblem(subject);
  return wrongSubject ? { kind, problem: wrongSubject } : { kind, subject, event: e, sound };
}

/** The buffer intake of a checked line: lot events as ingest decodes them, DCS as records. */
export function intakeOf(line: Line): Intake {
  return line.kind === "lot"
    ? {
      kind: "events",
      subject: line.subject,
      events: [line.event as unknown as CanonicalLotEvent],
    }
    : {
      kind: "records",
      subject: line.subject,
      records: [{
        eventId: line.sound.eventId,
        lotKey: line.sound.lotKey,
        body: line.event,
        receivedAt: line.receivedAt ?? Date.now(),
      }],
    };
}

/** What is wrong with one event row, checked by its kind's validator; undefined when sound. */
export function rowProblem(e: BufferedEvent, kind: Kind | undefined): string | undefined {
  if (kind === undefined) {
    return `subject "${e.subject}" is of no known kind (${
      KIND_NAMES.map((k) => `${KINDS[k].prefix}* for ${k}`).join(", ")
    })`;
  }
  let text: string;
  try {
    text = utf8.decode(e.body);
  } catch {
    return "body is not valid UTF-8";
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return `body is not JSON: ${errorMessage(error)}`;
  }
  const sound = KINDS[kind].validate(body);
  if (typeof sound === "string") return `body fails ${KINDS[kind].schema}: ${sound}`;
  if (sound.eventId !== e.eventId) {
    return `event_id column "${e.eventId}" differs from the body's eventId "${sound.eventId}"`;
  }
  const wrongSubject = sound.subjectProblem(e.subject);
  if (wrongSubject) return wrongSubject;
  if (e.lotKey !== sound.lotKey) return `lot key "${e.lotKey}" should be "${sound.lotKey}"`;
  return undefined;
}
