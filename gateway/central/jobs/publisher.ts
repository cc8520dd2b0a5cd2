/**
 * The job order publisher (seed 003): a singleton that turns the job store's change streams into
 * retained MQTT v5 topics for the MES, each with the configured Message Expiry Interval:
 *
 * | topic                               | when                                                      |
 * | ----------------------------------- | --------------------------------------------------------- |
 * | `<prefix>/<scope>/state-index`      | every transition (and a result that changes `has_result`) |
 * | `<prefix>/<scope>/order/<jobId>`    | Store, StoreAndStart, Update                              |
 * | `<prefix>/<scope>/result/<jobId>`   | the job is clearable (Ended/Aborted) AND has a response   |
 * | zero-byte on `order/` and `result/` | the job left the list (Clear, Cancel) or is gone          |
 *
 * **Delivery.** At least once: an entry's cursor (`publisher:stream-cursors`) is saved only after
 * every publish it caused was acknowledged (PUBACK), so a crash repeats the entry (harmless: the
 * topics are state, and each publish reads the job's current record) and never skips one. A
 * stream trimmed past the cursor, a scope without a cursor and a newly discovered scope get a full
 * resync from the store instead.
 *
 * **State index.** Kept in memory ({@linkcode ScopeIndex}), built from the store once per scope
 * at start-up (or discovery), then updated from the changed job only: a publish costs one GET,
 * one INCR and one PUBLISH whatever the number of jobs (the reference re-read N+1 keys).
 * `seq` = INCR `pubseq:<scope>` per publish; a publish that failed is retried with the same seq,
 * so the MES sees no hole from a broker hiccup.
 *
 * **Results.** Published whenever the job is clearable and has a response, whatever came first:
 * a ResultUpdate before the job ended is published on the terminal transition (the reference
 * dropped it). `has_result` means "the result topic is published". Start-up republishes the
 * results of clearable jobs, as it cannot know which were published before a crash.
 *
 * @module
 */
import { backoffDelay } from "../../core/backoff.ts";
import { errorMessage, PlantgateError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { type Counter, RoleMetrics } from "../../core/metrics.ts";
import type { MqttPublisher } from "../../io/mqtt_publisher.ts";
import {
  type ChangeFeed,
  compareStreamIds,
  scopeOfStream,
  type StreamBatch,
} from "./publish_feed.ts";
import { ScopeIndex } from "./publish_index.ts";
import { isClearable, isListed, type Job } from "./state_machine.ts";
import { type ChangeEntry, JOB_TOPICS, type JobStore, KEYS } from "./store.ts";

/** Change types that publish the job order. */
const ORDER_CHANGES: ReadonlySet<string> = new Set(["Store", "StoreAndStart", "Update"]);

/** Where the publisher reads and writes. */
export interface PublisherDeps {
  store: JobStore;
  feed: ChangeFeed;
  /** QoS 1 publishes resolving on PUBACK (an {@linkcode MqttPublisher}). */
  mqtt: Pick<MqttPublisher, "publish">;
}

/** Options of {@linkcode JobPublisher}. */
export interface JobPublisherOptions {
  /** Topic prefix. Default `app/jobs`. */
  prefix?: string;
  /** MQTT v5 Message Expiry Interval of every retained message. Default 172,800 s (48 h). */
  retainedTtlSeconds?: number;
  /** XREAD COUNT: entries per stream and read. Default 50. */
  streamReadCount?: number;
  /** XREAD BLOCK: how long a read waits for new entries; also bounds stop(). Default 500 ms. */
  streamBlockMs?: number;
  /** Locale of the state texts. Default "en". */
  locale?: string;
  log: Logger;
  /** Default: a new {@linkcode PublisherMetrics}. */
  metrics?: PublisherMetrics;
  /** Clock of `published_at`. Default `() => new Date()`. */
  now?: () => Date;
}

/** The publisher's counters, beside the errors counter every role has. */
export class PublisherMetrics extends RoleMetrics {
  /** Change stream entries handled (cursor saved). */
  readonly entries: Counter;
  /** Retained publishes by topic kind: state-index, order, result, delete. */
  readonly publishes: Counter;

  constructor() {
    super("plantgate_publisher");
    this.entries = this.registry.counter(
      "plantgate_publisher_entries_total",
      "Change stream entries handled (their publishes acknowledged, cursor saved).",
    );
    this.publishes = this.registry.counter(
      "plantgate_publisher_publishes_total",
      "Retained MQTT publishes by kind: state-index, order, result, delete (zero-byte).",
    );
  }
}

/** The running publisher: `start()` (retries until Redis and the broker answer), `stop()`. */
export class JobPublisher {
  readonly metrics: PublisherMetrics;
  readonly #deps: PublisherDeps;
  readonly #prefix: string;
  readonly #ttl: number;
  readonly #read: { count: number; blockMs: number };
  readonly #locale: string;
  readonly #log: Logger;
  readonly #now: () => Date;
  readonly #abort = new AbortController();
  /** Stream key -> id of the last entry handled: the XREAD set. */
  readonly #after = new Map<string, string>();
  readonly #indexes = new Map<string, ScopeIndex>();
  /** Scope -> the seq of a state-index publish that failed, reused by its retry. */
  readonly #pendingSeq = new Map<string, number>();
  #loop: Promise<void> | undefined;

  constructor(deps: PublisherDeps, options: JobPublisherOptions) {
    this.#deps = deps;
    this.#prefix = options.prefix ?? "app/jobs";
    this.#ttl = options.retainedTtlSeconds ?? 172_800;
    this.#read = { count: options.streamReadCount ?? 50, blockMs: options.streamBlockMs ?? 500 };
    this.#locale = options.locale ?? "en";
    this.#log = options.log;
    this.metrics = options.metrics ?? new PublisherMetrics();
    this.#now = options.now ?? (() => new Date());
  }

  /** The scopes being published. */
  get scopes(): string[] {
    return [...this.#indexes.keys()];
  }

  /**
   * Loads the cursors, builds each scope's state index from the store and publishes it (covering
   * the gap while no publisher ran), then reads the change streams until stopped. Resolves once
   * the start-up publishes are done; retries with backoff until then.
   */
  async start(): Promise<void> {
    if (this.#loop || this.#abort.signal.aborted) return;
    for (let failures = 0; !this.#abort.signal.aborted; failures++) {
      try {
        await this.#startup();
        break;
      } catch (error) {
        this.#report(error, "Cannot start the job publisher", failures + 1);
        await this.#sleep(backoffDelay(failures, { maxMs: 30_000 }));
      }
    }
    if (!this.#abort.signal.aborted) this.#loop = this.#run();
  }

  /** Stops after the entry in progress (a blocked read returns within streamBlockMs). */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  async #startup(): Promise<void> {
    const { store, feed } = this.#deps;
    this.#after.clear();
    this.#indexes.clear();
    const saved = await feed.loadCursors();
    const scopes = new Set(await store.scopes());
    for (const stream of saved.keys()) {
      const scope = scopeOfStream(stream);
      if (scope !== undefined) scopes.add(scope);
    }
    for (const scope of scopes) await this.#syncScope(scope, saved.get(KEYS.changes(scope)));
    this.#after.set(KEYS.globalChanges, saved.get(KEYS.globalChanges) ?? "0");
    const jobs = [...this.#indexes.values()].reduce((n, index) => n + index.size, 0);
    this.#log.info("Job publisher started", { scopes: scopes.size, jobs, prefix: this.#prefix });
  }

  /**
   * Builds the scope's index from the store and publishes it. Without a usable cursor (none, or
   * trimmed from the stream while newer entries came: some may have gone unseen), also publishes
   * every listed job's order and deletes the topics of jobs that left the list, then continues
   * after the stream's last id, read before the list.
   */
  async #syncScope(scope: string, cursor: string | undefined): Promise<void> {
    const { feed } = this.#deps;
    const stream = KEYS.changes(scope);
    const lastId = await feed.lastId(stream);
    const trimmed = cursor !== undefined && lastId !== undefined &&
      compareStreamIds(lastId, cursor) > 0 && !(await feed.holds(stream, cursor));
    const full = cursor === undefined || trimmed;
    const index = new ScopeIndex(scope, this.#locale);
    for (const job of await this.#deps.store.list(scope)) {
      const id = job.order.JobOrderID;
      if (!isListed(job)) {
        if (full) await this.#deleteTopics(scope, id);
        continue;
      }
      if (full) await this.#publishOrder(scope, job);
      index.set(job, isClearable(job) && await this.#publishResult(scope, id));
    }
    await this.#publishIndex(index);
    const from = full ? lastId ?? "0" : cursor!;
    if (full) {
      await this.#deps.feed.saveCursor(stream, from);
      this.#log.info("Job scope resynchronized from the store", {
        scope,
        jobs: index.size,
        reason: trimmed ? "entries trimmed unseen" : "no cursor",
      });
    }
    // Known only once synchronized: a failure above makes the global entry discover it again.
    this.#indexes.set(scope, index);
    this.#after.set(stream, from);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    for (let failures = 0; !signal.aborted;) {
      try {
        const batches = await this.#deps.feed.read(this.#after, this.#read);
        for (const batch of batches) await this.#handleBatch(batch);
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        this.#report(error, "Cannot publish job changes; retrying", ++failures);
        await this.#sleep(backoffDelay(failures - 1, { maxMs: 30_000 }));
      }
    }
  }

  async #handleBatch(batch: StreamBatch): Promise<void> {
    const scope = scopeOfStream(batch.stream);
    if (scope === undefined) return await this.#discover(batch);
    for (const entry of batch.entries) {
      if (this.#abort.signal.aborted) return;
      await this.#dispatch(scope, entry.fields);
      // Only now: every publish of the entry was acknowledged.
      await this.#deps.feed.saveCursor(batch.stream, entry.id);
      this.#after.set(batch.stream, entry.id);
      this.metrics.entries.inc();
    }
  }

  /** Global stream entries: a scope not seen yet is synchronized and joins the XREAD set. */
  async #discover(batch: StreamBatch): Promise<void> {
    for (const entry of batch.entries) {
      const scope = entry.fields.scope;
      if (!this.#indexes.has(scope)) {
        await this.#syncScope(scope, undefined);
        this.#log.info("New job scope", { scope });
      }
      this.#after.set(batch.stream, entry.id);
    }
    const last = batch.entries.at(-1);
    if (last) await this.#deps.feed.saveCursor(batch.stream, last.id);
  }

  /** Makes the job's topics and index entry match its current record (seed 003's table). */
  async #dispatch(scope: string, entry: ChangeEntry): Promise<void> {
    const { change_type: change, job_order_id: id } = entry;
    const index = this.#indexes.get(scope)!;
    const job = await this.#deps.store.get(scope, id);
    let changed: boolean;
    if (!job || !isListed(job)) {
      // Clear or Cancel (or a later entry of a job that left the list, or a purged record).
      await this.#deleteTopics(scope, id);
      changed = index.delete(id);
    } else {
      if (ORDER_CHANGES.has(change)) await this.#publishOrder(scope, job);
      let hasResult = index.hasResult(id);
      // On ResultUpdate the response changed; on a transition the job may just have ended.
      if (isClearable(job) && (change === "ResultUpdate" || !hasResult)) {
        hasResult = await this.#publishResult(scope, id) || hasResult;
      }
      changed = index.set(job, hasResult);
    }
    if (changed || change !== "ResultUpdate") await this.#publishIndex(index);
  }

  async #publishOrder(scope: string, job: Job): Promise<void> {
    const topic = JOB_TOPICS.order(this.#prefix, scope, job.order.JobOrderID);
    await this.#retained(topic, JSON.stringify(job.order), "order");
  }

  /** Publishes the job's response if it has one; returns whether it did. */
  async #publishResult(scope: string, id: string): Promise<boolean> {
    const response = await this.#deps.store.getResponse(scope, id);
    if (!response) return false;
    await this.#retained(
      JOB_TOPICS.result(this.#prefix, scope, id),
      JSON.stringify(response),
      "result",
    );
    return true;
  }

  async #deleteTopics(scope: string, id: string): Promise<void> {
    for (const topic of [JOB_TOPICS.order, JOB_TOPICS.result]) {
      await this.#deps.mqtt.publish(topic(this.#prefix, scope, id), "", { retain: true });
      this.metrics.publishes.inc({ kind: "delete" });
    }
  }

  async #publishIndex(index: ScopeIndex): Promise<void> {
    const { scope } = index;
    const seq = this.#pendingSeq.get(scope) ?? await this.#deps.feed.nextSeq(scope);
    this.#pendingSeq.set(scope, seq);
    const payload = index.payload(seq, this.#now());
    await this.#retained(JOB_TOPICS.stateIndex(this.#prefix, scope), payload, "state-index");
    this.#pendingSeq.delete(scope);
  }

  async #retained(topic: string, payload: string, kind: string): Promise<void> {
    await this.#deps.mqtt.publish(topic, payload, { retain: true, expirySeconds: this.#ttl });
    this.metrics.publishes.inc({ kind });
  }

  /** One log line and one counter per failure (retries back off up to 30 s). */
  #report(error: unknown, message: string, failures: number): void {
    // Redis errors come from ioredis untyped; the DAO's own failures are apply_failed too.
    const code = error instanceof PlantgateError ? error.code : "apply_failed";
    this.metrics.error(this.#log, code, "forward", message, {
      failures,
      error: errorMessage(error),
    });
  }

  #sleep(ms: number): Promise<void> {
    const signal = this.#abort.signal;
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
    });
  }
}
