/**
 * The reference MES resync client (`main.ts mes-client`, seed 003 "Reconnect and resync"). It
 * subscribes to each scope's retained `state-index`, notices gaps in `seq`, reads the retained
 * `result/<id>` of every job that is terminal and has a result, records it (one JSON line per
 * result, fsync'd before anything else happens), and only then calls Clear for it. What it has
 * recorded and the last seq per scope survive restarts in a state file, so a crash between
 * recording and Clear records nothing twice and loses nothing.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import mqtt from "mqtt";
import { errorMessage } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { StateIndexPayload } from "./publish_index.ts";
import { methodCallMessage } from "./processor.ts";
import { STATE_NUMBERS } from "./states.ts";
import { JOB_TOPICS } from "./store.ts";

/** Options of {@linkcode MesClient}. */
export interface MesClientOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  prefix: string;
  /** Scopes to follow. */
  scopes: string[];
  /** JSON state (last seq per scope, results recorded and not yet cleared). */
  stateFile: string;
  /** Results, one JSON line each: {scope, jobOrderId, recordedAt, result}. */
  resultsFile: string;
  /** How long to wait for a retained result or a Clear answer. Default 10 s. */
  timeoutMs?: number;
  log: Logger;
}

/** What the client did, for its summary and the tests. */
export interface MesClientCounts {
  gaps: number;
  recorded: number;
  cleared: number;
}

interface SavedState {
  lastSeq: Record<string, number>;
  /** scope/jobOrderId recorded but whose Clear was not confirmed yet. */
  pending: string[];
}

/** State numbers of the clearable states (Ended, Aborted). */
const CLEARABLE = new Set([STATE_NUMBERS.Ended, STATE_NUMBERS.Aborted]);
const RETAINED_GRACE_MS = 1000;

/** Follows the scopes until stopped. */
export class MesClient {
  readonly counts: MesClientCounts = { gaps: 0, recorded: 0, cleared: 0 };
  readonly #options: MesClientOptions;
  #client: mqtt.MqttClient | undefined;
  #state: SavedState = { lastSeq: {}, pending: [] };
  readonly #waiting = new Map<string, (payload: Buffer) => void>();
  /** Scope -> the resync loop running for it. */
  readonly #queues = new Map<string, Promise<void>>();
  /** Scope -> the newest index not handled yet. */
  readonly #latest = new Map<string, StateIndexPayload>();
  /** scope/jobOrderId cleared by this client (a later index may still list them). */
  readonly #cleared = new Set<string>();

  constructor(options: MesClientOptions) {
    this.#options = options;
  }

  /** The last seq seen per scope. */
  get lastSeq(): Readonly<Record<string, number>> {
    return this.#state.lastSeq;
  }

  async start(): Promise<void> {
    const options = this.#options;
    try {
      this.#state = JSON.parse(await Deno.readTextFile(options.stateFile));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const client = await mqtt.connectAsync(options.url, {
      protocolVersion: 5,
      clientId: options.clientId,
      username: options.username,
      password: options.password,
      clean: true,
      reconnectPeriod: 1000,
    });
    this.#client = client;
    client.on("message", (topic, payload, packet) => {
      const waiter = this.#waiting.get(
        topic === this.#replyTopic() ? String(packet.properties?.correlationData) : topic,
      );
      if (waiter) return waiter(payload);
      if (!topic.endsWith("/state-index") || payload.length === 0) return;
      const index = JSON.parse(payload.toString("utf8")) as StateIndexPayload;
      // Only the newest index matters: one resync per scope at a time, then the latest one.
      this.#latest.set(index.scope, index);
      if (!this.#queues.has(index.scope)) this.#queues.set(index.scope, this.#drain(index.scope));
    });
    await client.subscribeAsync(this.#replyTopic(), { qos: 1 });
    await client.subscribeAsync(
      options.scopes.map((s) => JOB_TOPICS.stateIndex(options.prefix, s)),
      { qos: 1 },
    );
  }

  /** Finishes the resync in progress and disconnects. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.#queues.values()]);
    await this.#client?.endAsync();
  }

  #replyTopic(): string {
    return `mes/${this.#options.clientId}/replies`;
  }

  async #drain(scope: string): Promise<void> {
    for (let index = this.#latest.get(scope); index; index = this.#latest.get(scope)) {
      this.#latest.delete(scope);
      try {
        await this.#resync(index);
      } catch (error) {
        this.#options.log.error("Resync failed; the next index retries", {
          scope,
          error: errorMessage(error),
        });
      }
    }
    this.#queues.delete(scope);
  }

  /** Records and clears every terminal job with a result in the index. */
  async #resync(index: StateIndexPayload): Promise<void> {
    const { log, prefix } = this.#options;
    const last = this.#state.lastSeq[index.scope];
    if (last !== undefined && index.seq > last + 1) {
      this.counts.gaps++;
      log.info("State index gap: resync", { scope: index.scope, last, seq: index.seq });
    }
    if (last === undefined || index.seq > last) this.#state.lastSeq[index.scope] = index.seq;
    for (const job of index.jobs) {
      const top = job.state[0]?.state_number;
      if (!job.has_result || !CLEARABLE.has(top)) continue;
      const key = `${index.scope}/${job.job_order_id}`;
      if (this.#cleared.has(key)) continue;
      if (!this.#state.pending.includes(key)) {
        const topic = JOB_TOPICS.result(prefix, index.scope, job.job_order_id);
        const result = await this.#retained(topic);
        if (result === undefined) continue; // deleted meanwhile: cleared by someone else
        await this.#record(index.scope, job.job_order_id, result);
        this.#state.pending.push(key);
        await this.#save();
      }
      const status = await this.#clear(index.scope, job.job_order_id);
      // 1 = cleared now; 2 = unknown id (cleared before, e.g. by a previous run).
      if (status === 1 || status === 2) {
        this.#state.pending = this.#state.pending.filter((p) => p !== key);
        this.#cleared.add(key);
        if (status === 1) this.counts.cleared++;
        await this.#save();
      } else {
        log.warn("Clear refused", { scope: index.scope, job: job.job_order_id, status });
      }
    }
    await this.#save();
  }

  /**
   * The retained message of a topic, or undefined when there is none (the broker sends a
   * retained message right after the SUBACK, so a short wait after it is enough).
   */
  async #retained(topic: string): Promise<unknown> {
    const payload = await this.#await(topic, async () => {
      await this.#client!.subscribeAsync(topic, { qos: 1 });
    }, RETAINED_GRACE_MS);
    await this.#client!.unsubscribeAsync(topic);
    return payload === undefined || payload.length === 0
      ? undefined
      : JSON.parse(payload.toString("utf8"));
  }

  async #record(scope: string, jobOrderId: string, result: unknown): Promise<void> {
    const line = JSON.stringify({
      scope,
      jobOrderId,
      recordedAt: new Date().toISOString(),
      result,
    });
    const file = await Deno.open(this.#options.resultsFile, { append: true, create: true });
    try {
      await file.write(new TextEncoder().encode(line + "\n"));
      await file.sync();
    } finally {
      file.close();
    }
    this.counts.recorded++;
  }

  /** Calls Clear; resolves with the ReturnStatus, or undefined without an answer. */
  async #clear(scope: string, jobOrderId: string): Promise<number | undefined> {
    const id = crypto.randomUUID();
    const payload = await this.#await(id, async () => {
      const message = methodCallMessage({
        method: "Clear",
        data: { JobOrderID: jobOrderId, Comment: [] },
        id,
        source: `urn:plantgate:mes-client:${this.#options.clientId}`,
        scope,
        replyTo: { topic: this.#replyTopic(), correlationData: new TextEncoder().encode(id) },
      });
      await this.#client!.publishAsync(
        JOB_TOPICS.commands(this.#options.prefix, scope),
        message.payload,
        message.options,
      );
    });
    return payload === undefined ? undefined : Number(JSON.parse(payload.toString()).ReturnStatus);
  }

  /** Runs `send` and waits for the message keyed `key` (a topic or correlation id). */
  #await(
    key: string,
    send: () => Promise<void>,
    graceMs?: number,
  ): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => {
      const expire = () => {
        this.#waiting.delete(key);
        resolve(undefined);
      };
      let timer = setTimeout(expire, this.#options.timeoutMs ?? 10_000);
      this.#waiting.set(key, (payload) => {
        clearTimeout(timer);
        this.#waiting.delete(key);
        resolve(payload);
      });
      send().then(() => {
        if (graceMs === undefined || !this.#waiting.has(key)) return;
        clearTimeout(timer);
        timer = setTimeout(expire, graceMs);
      }, (error) => {
        clearTimeout(timer);
        this.#waiting.delete(key);
        reject(error);
      });
    });
  }

  async #save(): Promise<void> {
    const tmp = `${this.#options.stateFile}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(this.#state));
    await Deno.rename(tmp, this.#options.stateFile);
  }
}
