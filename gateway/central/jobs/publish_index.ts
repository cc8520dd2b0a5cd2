/**
 * The publisher's in-memory state index of one scope (seed 003, "State index payload"): every
 * listed job order with its `State` array and whether its `result/<id>` topic is published.
 * Built from the store once, then kept current by deltas (the changed job only), so a publish
 * costs the same whatever the number of jobs: no N+1 reads as in the reference, whose
 * rebuild-per-publish the seed lists as a known limitation. Each job's JSON is kept serialized,
 * so a payload is a join of cached strings.
 *
 * @example
 * ```ts
 * const index = new ScopeIndex("machine-42");
 * index.set(job, false);
 * index.payload(104, new Date()); // {"seq":104,"scope":"machine-42","published_at":...,"jobs":[...]}
 * ```
 *
 * @module
 */
import { isListed, type Job, jobStateArray } from "./state_machine.ts";

/** One state of a job in the state index (ISA95StateDataType without its BrowsePath). */
export interface StateIndexState {
  state_text: { text: string; locale: string };
  state_number: number;
}

/** One job of the state index. */
export interface StateIndexJob {
  job_order_id: string;
  /** The top-level state first, then the substate (spec numbers, local to the substate machine). */
  state: StateIndexState[];
  /** Whether `<prefix>/<scope>/result/<job_order_id>` is published (not merely stored). */
  has_result: boolean;
}

/** The retained `<prefix>/<scope>/state-index` payload. */
export interface StateIndexPayload {
  /** INCR `pubseq:<scope>` per publish: monotonic across publisher restarts. */
  seq: number;
  scope: string;
  /** ISO 8601 UTC, seconds precision as in the seed. */
  published_at: string;
  /** Listed jobs (EndState ones left out), in store order. */
  jobs: StateIndexJob[];
}

interface Entry {
  json: string;
  hasResult: boolean;
}

/** The state index of one scope, in memory. */
export class ScopeIndex {
  readonly scope: string;
  readonly #locale: string;
  // A Map keeps insertion order: jobs are added in store order (the list at start-up, then
  // each Store as it comes), and an update keeps its job's place.
  readonly #entries = new Map<string, Entry>();

  /** `locale` of the state texts; default "en". */
  constructor(scope: string, locale = "en") {
    this.scope = scope;
    this.#locale = locale;
  }

  /** Number of listed jobs. */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether the job is listed here. */
  has(jobOrderId: string): boolean {
    return this.#entries.has(jobOrderId);
  }

  /** Whether the job's result topic is published (false for a job not listed). */
  hasResult(jobOrderId: string): boolean {
    return this.#entries.get(jobOrderId)?.hasResult ?? false;
  }

  /**
   * Puts the job's current state (a job that is not listed any more is removed). Returns whether
   * the index changed.
   */
  set(job: Job, hasResult: boolean): boolean {
    const id = job.order.JobOrderID;
    if (!isListed(job)) return this.delete(id);
    const json = JSON.stringify(this.#entry(job, hasResult));
    const before = this.#entries.get(id);
    if (before?.json === json) return false;
    this.#entries.set(id, { json, hasResult });
    return true;
  }

  /** Removes the job; returns whether it was listed. */
  delete(jobOrderId: string): boolean {
    return this.#entries.delete(jobOrderId);
  }

  /** The serialized payload: seq, scope, published_at and the jobs, in store order. */
  payload(seq: number, now: Date): string {
    const head = JSON.stringify({
      seq,
      scope: this.scope,
      published_at: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
    });
    const jobs = [...this.#entries.values()].map((e) => e.json).join(",");
    return `${head.slice(0, -1)},"jobs":[${jobs}]}`;
  }

  #entry(job: Job, hasResult: boolean): StateIndexJob {
    return {
      job_order_id: job.order.JobOrderID,
      state: jobStateArray(job, this.#locale).map((s) => ({
        state_text: { text: s.StateText.Text ?? "", locale: s.StateText.Locale ?? this.#locale },
        state_number: s.StateNumber,
      })),
      has_result: hasResult,
    };
  }
}
