/**
 * The contract between the jobs processor, the Redis DAO and the publisher (seed 003): what a
 * save writes, the Redis keys, and the change stream entries the publisher reads. The Redis
 * implementation is `dao.ts`; this module has no I/O.
 *
 * Every save writes the record AND appends a change entry to `joborder:changes:<scope>` and to
 * `joborder:changes:_global` (both `MAXLEN ~ 5000`) in one MULTI/EXEC, so the publisher cannot
 * miss a change and never sees one that was not stored.
 *
 * @module
 */
import type { Job, JobEvent } from "./mod.ts";

/** Redis keys (plain Redis 7: strings, hashes, sets, sorted sets, streams; no modules). */
export const KEYS = {
  /** String: the Job as JSON. */
  job: (scope: string, jobOrderId: string) => `joborder:${scope}:${jobOrderId}`,
  /** Sorted set of a scope's job order ids, scored by when they were stored (ms). */
  jobs: (scope: string) => `joborders:${scope}`,
  /** String: the scope's JobResponse as JSON. */
  response: (scope: string, jobOrderId: string) => `jobresponse:${scope}:${jobOrderId}`,
  /** Stream: the scope's change log, read by the publisher. */
  changes: (scope: string) => `joborder:changes:${scope}`,
  /** Stream: every change of every scope (new-scope discovery). */
  globalChanges: "joborder:changes:_global",
  /** Set: every scope that ever stored a job. */
  activeScopes: "active-scopes",
  /** String (integer): the scope's state-index sequence number (INCR per publish). */
  publishSeq: (scope: string) => `pubseq:${scope}`,
  /** Hash: stream key -> last entry id the publisher handled. */
  publisherCursors: "publisher:stream-cursors",
  /** String: the answer last given to a CloudEvent id (duplicate commands are answered again). */
  commandAnswer: (scope: string, cloudEventId: string) => `jobcommand:${scope}:${cloudEventId}`,
} as const;

/** The MES-facing MQTT topics of a scope (ARCHITECTURE.md, central MQTT). */
export const JOB_TOPICS = {
  /** MES method calls in (`+` as the scope: every scope). */
  commands: (prefix: string, scope: string) => `${prefix}/${scope}/commands`,
  /** Status events out. */
  events: (prefix: string, scope: string) => `${prefix}/${scope}/events`,
  /** Retained metadata. */
  metadata: (prefix: string, scope: string) => `${prefix}/${scope}/metadata`,
  /** Retained state index. */
  stateIndex: (prefix: string, scope: string) => `${prefix}/${scope}/state-index`,
  /** Retained job order. */
  order: (prefix: string, scope: string, id: string) => `${prefix}/${scope}/order/${id}`,
  /** Retained job response of a clearable job. */
  result: (prefix: string, scope: string, id: string) => `${prefix}/${scope}/result/${id}`,
} as const;

/** Approximate length bound of each change stream (covers 30+ minutes of publisher downtime). */
export const CHANGE_STREAM_MAXLEN = 5000;

/** The change types of stream entries: the transition's event name, or a result update. */
export type ChangeType = JobEvent | "ResultUpdate";

/** One change stream entry, as its fields are written (all strings on the wire). */
export interface ChangeEntry {
  change_type: ChangeType;
  job_order_id: string;
  scope: string;
  /** ISO 8601 UTC. */
  ts: string;
}

/** ISA95JobResponseDataType as the DCS reports it; kept as given. */
export interface JobResponse {
  JobResponseID: string;
  JobOrderID: string;
  [field: string]: unknown;
}

/** The answer to a call, kept for repeats of the call. */
export interface StoredAnswer {
  key: string;
  value: string;
  ttlSeconds: number;
}

/** What the processor and the publisher need from the store. */
export interface JobStore {
  /** The job order, or undefined (never stored). */
  get(scope: string, jobOrderId: string): Promise<Job | undefined>;
  /** Every job of the scope (EndState included), in store order. */
  list(scope: string): Promise<Job[]>;
  /**
   * Writes the job and its change entry (change_type = `change`) atomically; SADD
   * active-scopes on the scope's first save. With `answer`, the answer to the call that caused
   * the change is stored in the same transaction (`KEYS.commandAnswer`, expiring after
   * `ttlSeconds`), so a call retried after a crash gets the answer of the change it made.
   */
  save(scope: string, job: Job, change: JobEvent, answer?: StoredAnswer): Promise<void>;
  /** The job's response, or undefined. */
  getResponse(scope: string, jobOrderId: string): Promise<JobResponse | undefined>;
  /** Writes the response and a `ResultUpdate` change entry atomically. */
  saveResponse(scope: string, response: JobResponse): Promise<void>;
  /** Every scope that ever stored a job. */
  scopes(): Promise<string[]>;
}
