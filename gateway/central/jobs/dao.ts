/**
 * The Redis job store: {@linkcode JobStore} on plain Redis 7 (keys and change entries in
 * `store.ts`). Every write is one MULTI/EXEC that also appends the change entry to the scope's
 * stream and to the global stream, so the publisher cannot miss a change and never sees one
 * that was not stored.
 *
 * Atomicity, precisely: Redis applies a transaction only when EXEC arrives. A connection lost
 * before that, or a command Redis refuses while queueing (out of memory, read-only replica, ACL,
 * MISCONF), discards the whole transaction (EXECABORT): nothing is written. Redis does not roll
 * back a command that fails while EXEC runs; the only such failure here is WRONGTYPE (a foreign
 * value under one of our keys). SET, queued first, cannot fail that way, so even then no change
 * entry exists without its record; save() reports the failure.
 *
 * @module
 */
import type { ChainableCommander } from "ioredis";
import type { Redis } from "../../io/redis.ts";
import { errorMessage, PlantgateError } from "../../core/errors.ts";
import type { Job, JobEvent } from "./mod.ts";
import {
  CHANGE_STREAM_MAXLEN,
  type ChangeEntry,
  type ChangeType,
  type JobResponse,
  type JobStore,
  KEYS,
  type StoredAnswer,
} from "./store.ts";

/** Options of {@linkcode RedisJobStore}. */
export interface RedisJobStoreOptions {
  /** Clock for the change entries' `ts`. Default `() => new Date()`. */
  now?: () => Date;
}

/** {@linkcode JobStore} on Redis (the DAO of seed 003). */
export class RedisJobStore implements JobStore {
  readonly #redis: Redis;
  readonly #now: () => Date;

  /** Uses `redis` (from `connectRedis`); never closes it. */
  constructor(redis: Redis, options: RedisJobStoreOptions = {}) {
    this.#redis = redis;
    this.#now = options.now ?? (() => new Date());
  }

  /** The job order, or undefined (never stored). */
  async get(scope: string, jobOrderId: string): Promise<Job | undefined> {
    const json = await this.#redis.get(KEYS.job(scope, jobOrderId));
    return json === null ? undefined : JSON.parse(json);
  }

  /**
   * Every job of the scope (EndState included), in store order: by `storedAt`, then by id within
   * one millisecond. One ZRANGE and one MGET; an id whose record is gone is skipped.
   */
  async list(scope: string): Promise<Job[]> {
    const ids = await this.#redis.zrange(KEYS.jobs(scope), 0, -1);
    if (ids.length === 0) return [];
    const values = await this.#redis.mget(ids.map((id) => KEYS.job(scope, id)));
    return values.filter((json) => json !== null).map((json) => JSON.parse(json));
  }

  /** Writes the job, its place in the scope's sorted set, both change entries and the scope. */
  async save(scope: string, job: Job, change: JobEvent, answer?: StoredAnswer): Promise<void> {
    checkScope(scope);
    const id = job.order.JobOrderID;
    const storedAt = Date.parse(job.storedAt);
    if (Number.isNaN(storedAt)) {
      throw new TypeError(`Cannot save job order ${id}: storedAt "${job.storedAt}" is not a date`);
    }
    const tx = this.#redis.multi()
      .set(KEYS.job(scope, id), JSON.stringify(job))
      // NX: an update keeps the job's place in the list.
      .zadd(KEYS.jobs(scope), "NX", storedAt, id);
    this.#appendChange(tx, this.#entry(scope, id, change));
    tx.sadd(KEYS.activeScopes, scope);
    if (answer) tx.set(answer.key, answer.value, "EX", answer.ttlSeconds);
    await commit(tx, `save job order ${id} of scope "${scope}"`);
  }

  /** The job's response, or undefined. */
  async getResponse(scope: string, jobOrderId: string): Promise<JobResponse | undefined> {
    const json = await this.#redis.get(KEYS.response(scope, jobOrderId));
    return json === null ? undefined : JSON.parse(json);
  }

  /**
   * Writes the response and a `ResultUpdate` change entry to both streams. Also SADDs the scope,
   * so that every scope with a change stream is in active-scopes.
   */
  async saveResponse(scope: string, response: JobResponse): Promise<void> {
    checkScope(scope);
    const id = response.JobOrderID;
    const tx = this.#redis.multi().set(KEYS.response(scope, id), JSON.stringify(response));
    this.#appendChange(tx, this.#entry(scope, id, "ResultUpdate"));
    tx.sadd(KEYS.activeScopes, scope);
    await commit(tx, `save the response to job order ${id} of scope "${scope}"`);
  }

  /** Every scope that ever stored a job, sorted. */
  async scopes(): Promise<string[]> {
    return (await this.#redis.smembers(KEYS.activeScopes)).sort();
  }

  #entry(scope: string, jobOrderId: string, change: ChangeType): ChangeEntry {
    return { change_type: change, job_order_id: jobOrderId, scope, ts: this.#now().toISOString() };
  }

  #appendChange(tx: ChainableCommander, entry: ChangeEntry): void {
    const fields = Object.entries(entry).flat();
    for (const stream of [KEYS.changes(entry.scope), KEYS.globalChanges]) {
      tx.xadd(stream, "MAXLEN", "~", CHANGE_STREAM_MAXLEN, "*", ...fields);
    }
  }
}

/** `_global` would make the scope's stream the global one (every entry written twice). */
function checkScope(scope: string): void {
  if (scope === "" || KEYS.changes(scope) === KEYS.globalChanges) {
    throw new TypeError(`Invalid job scope "${scope}": empty or reserved`);
  }
}

/** Runs EXEC; any refused or failed command fails the whole call, naming what failed. */
async function commit(tx: ChainableCommander, what: string): Promise<void> {
  let results: [Error | null, unknown][] | null;
  try {
    results = await tx.exec();
  } catch (error) {
    // EXECABORT carries the queueing errors that caused it.
    const previous = (error as { previousErrors?: unknown[] }).previousErrors ?? [];
    const reasons = [...new Set([...previous, error].map(errorMessage))].join("; ");
    throw new PlantgateError("apply_failed", `Cannot ${what}: ${reasons}`, { cause: error });
  }
  if (results === null) {
    throw new PlantgateError("apply_failed", `Cannot ${what}: transaction aborted`);
  }
  const failed = results.find(([error]) => error !== null)?.[0];
  if (failed) {
    // Applied in part by Redis (no rollback inside EXEC); retrying cannot fix a foreign key type.
    throw new PlantgateError("apply_failed", `Cannot ${what}: ${failed.message}`, {
      cause: failed,
      retryable: false,
    });
  }
}
