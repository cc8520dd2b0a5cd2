/**
 * The jobs processor: MES method calls as CloudEvents over the central MQTT broker (MQTT v5),
 * applied to the job order state machine and saved through the {@linkcode JobStore} (whose
 * saves feed the publisher's change streams).
 *
 * - In: `<prefix>/<scope>/commands`, QoS 1, a persistent session, binary content mode (data =
 *   payload, attributes in User Properties) or structured (`application/cloudevents+json`).
 *   Type `org.opcfoundation.ISA95-JOBCONTROL_V2.<Method>.v2`; only the spec's methods (the
 *   DCS-driven transitions are not MES methods and are refused as Invalid request).
 * - Out: the response (same type, dataschema `…<Method>Response`, `causationid` = the call's
 *   id, `correlationid` copied, data `{ReturnStatus}`) to the call's Response Topic with its
 *   Correlation Data echoed unchanged, QoS 1; the status event
 *   (`ISA95JobOrderStatusEventType`) to `<prefix>/<scope>/events`, QoS 1 (the reference sent
 *   both at QoS 0); the scope's metadata retained at `<prefix>/<scope>/metadata`, with a type.
 * - A duplicate call (same CloudEvent id, within `answerTtlSeconds`) is answered again with the
 *   first answer instead of being dropped (the reference left a retrying MES waiting forever).
 *   The answer of a call that changed a job is stored in the same transaction as the change, so
 *   a call retried after a crash gets it too.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import mqtt from "mqtt";
import { errorMessage } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Redis } from "../../io/redis.ts";
import {
  applyMethod,
  INVALID_REQUEST,
  isJobEvent,
  type Job,
  JOB_METHODS,
  type JobMethod,
  jobStateArray,
  type MethodArgs,
  requestedId,
  type ReturnStatus,
  returnStatusToJson,
  type TransitionInfo,
} from "./mod.ts";
import { JOB_TOPICS, type JobStore, KEYS } from "./store.ts";

const NAMESPACE = "org.opcfoundation.ISA95-JOBCONTROL_V2";
const SCHEMAS = "https://aschamberger.github.com/schemas/UA/ISA95-JOBCONTROL_V2/v2.0.0/#/$defs/";
const METHOD_TYPE = new RegExp(`^${NAMESPACE.replaceAll(".", "\\.")}\\.(\\w+)\\.v2$`);
const STATUS_EVENT = "ISA95JobOrderStatusEventType";

/** The CloudEvent type of an MES method call (and of its response). */
export function methodType(method: string): string {
  return `${NAMESPACE}.${method}.v2`;
}

/** What an MES sends to call a method (the arguments and where its answer should go). */
export interface MethodCall {
  method: string;
  /** The method's arguments: `{JobOrder, Comment}` or `{JobOrderID, Comment}`. */
  data: unknown;
  /** CloudEvent id; a repeat with the same id is answered again, not applied again. */
  id: string;
  source: string;
  scope: string;
  /** Where the answer goes, with the correlation data it will echo. */
  replyTo?: { topic: string; correlationData: Uint8Array };
}

/** A method call as an MQTT v5 message in binary content mode (QoS 1). */
export function methodCallMessage(
  call: MethodCall,
): { payload: string; options: mqtt.IClientPublishOptions } {
  const attributes = {
    specversion: "1.0",
    id: call.id,
    type: methodType(call.method),
    source: call.source,
    subject: call.scope,
  };
  return {
    payload: JSON.stringify(call.data),
    options: {
      qos: 1,
      properties: {
        contentType: "application/json",
        userProperties: attributes,
        ...(call.replyTo
          ? {
            responseTopic: call.replyTo.topic,
            correlationData: Buffer.from(call.replyTo.correlationData),
          }
          : {}),
      },
    },
  };
}

/** Where answers to calls are kept for re-sending to duplicates (Redis SET EX in production). */
export interface AnswerCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
}

/** The answer cache on Redis: `SET key value EX ttl`. */
export function redisAnswerCache(redis: Redis): AnswerCache {
  return {
    get: async (key) => (await redis.get(key)) ?? undefined,
    set: async (key, value, ttlSeconds) => {
      await redis.set(key, value, "EX", ttlSeconds);
    },
  };
}

/** Options of {@linkcode JobsProcessor}. */
export interface JobsProcessorOptions {
  /** Central (MES-facing) broker, `mqtt://host:port`. */
  url: string;
  /** Unique per processor instance (a shared id makes brokers drop the older connection). */
  clientId: string;
  username?: string;
  password?: string;
  /** Topic prefix, default `app/jobs`. */
  prefix: string;
  /** CloudEvent `source` of what the processor sends. */
  source: string;
  /** How long an answer is kept for duplicate calls. */
  answerTtlSeconds: number;
  /**
   * Told after each accepted transition is saved (e.g. `dcsRunCommands`: Run to the DCS). Its
   * failure is logged; the call is still answered.
   */
  onTransition?: (scope: string, job: Job, transition: TransitionInfo) => Promise<void>;
  log: Logger;
}

/** A parsed CloudEvent call. */
interface Call {
  id: string;
  type: string;
  subject?: string;
  correlationid?: string;
  data: unknown;
}

/** A message to send, kept as the answer of a call. */
interface Outgoing {
  topic: string;
  payload: string;
  properties: mqtt.IClientPublishOptions["properties"];
}

/** Runs until stopped. */
export class JobsProcessor {
  readonly #store: JobStore;
  readonly #answers: AnswerCache;
  readonly #options: JobsProcessorOptions;
  #client: mqtt.MqttClient | undefined;
  /** Calls are applied one at a time per scope, in arrival order. */
  readonly #queues = new Map<string, Promise<void>>();
  readonly #announced = new Set<string>();

  constructor(store: JobStore, answers: AnswerCache, options: JobsProcessorOptions) {
    this.#store = store;
    this.#answers = answers;
    this.#options = options;
  }

  /** Connects, announces the known scopes' metadata and subscribes to the commands. */
  async start(): Promise<void> {
    const options = this.#options;
    const client = await mqtt.connectAsync(options.url, {
      protocolVersion: 5,
      clientId: options.clientId,
      username: options.username,
      password: options.password,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
      reconnectPeriod: 1000,
    });
    this.#client = client;
    client.on("message", (topic, payload, packet) => {
      const scope = topic.slice(options.prefix.length + 1).split("/")[0];
      const previous = this.#queues.get(scope) ?? Promise.resolve();
      const next = previous.then(() => this.#handle(scope, payload, packet));
      this.#queues.set(scope, next);
    });
    for (const scope of await this.#store.scopes()) await this.#announce(scope);
    const commands = JOB_TOPICS.commands(options.prefix, "+");
    await client.subscribeAsync(commands, { qos: 1 });
    options.log.info("Jobs processor subscribed", { topic: commands });
  }

  /** Waits for the calls in progress and disconnects. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.#queues.values()]);
    await this.#client?.endAsync();
  }

  async #handle(scope: string, payload: Buffer, packet: mqtt.IPublishPacket): Promise<void> {
    const { log } = this.#options;
    const responseTopic = packet.properties?.responseTopic;
    const correlationData = packet.properties?.correlationData;
    let call: Call;
    try {
      call = parseCall(payload, packet);
    } catch (error) {
      log.warn("Not a CloudEvent method call: refused", { scope, error: errorMessage(error) });
      if (responseTopic) {
        await this.#send(this.#response(scope, undefined, "Unknown", INVALID_REQUEST), {
          responseTopic,
          correlationData,
        });
      }
      return;
    }
    try {
      const key = KEYS.commandAnswer(scope, call.id);
      const cached = await this.#answers.get(key);
      if (cached !== undefined) {
        log.info("Duplicate call answered again", { scope, id: call.id });
        if (responseTopic) await this.#send(JSON.parse(cached), { responseTopic, correlationData });
        return;
      }
      const { answer, stored } = await this.#apply(scope, call, key);
      if (!stored) {
        await this.#answers.set(key, JSON.stringify(answer), this.#options.answerTtlSeconds);
      }
      if (responseTopic) await this.#send(answer, { responseTopic, correlationData });
      else log.warn("Call without a Response Topic: applied, not answered", { id: call.id });
    } catch (error) {
      // Not answered: the MES retries (same id) and gets the answer once the store is back.
      log.error("Cannot process call", { scope, id: call.id, error: errorMessage(error) });
    }
  }

  /**
   * Applies a call; returns its response, and whether the response was stored with the change
   * (one transaction: a call retried after a crash gets the answer of the change it made).
   */
  async #apply(
    scope: string,
    call: Call,
    key: string,
  ): Promise<{ answer: Outgoing; stored: boolean }> {
    const method = METHOD_TYPE.exec(call.type)?.[1];
    if (!method || !isMethod(method) || (call.subject && call.subject.split("/")[0] !== scope)) {
      return {
        answer: this.#response(scope, call, method ?? "Unknown", INVALID_REQUEST),
        stored: false,
      };
    }
    const args = (call.data ?? {}) as MethodArgs;
    const id = requestedId(
      args,
      method === "Store" || method === "StoreAndStart" || method === "Update",
    );
    const job = id ? await this.#store.get(scope, id) : undefined;
    const result = applyMethod(job, method, args, new Date());
    if (!result.ok) {
      this.#options.log.info("Call refused", { scope, method, id, reason: result.reason });
      return { answer: this.#response(scope, call, method, result.status), stored: false };
    }
    const answer = this.#response(scope, call, method, result.status);
    await this.#store.save(scope, result.job, result.transition.event, {
      key,
      value: JSON.stringify(answer),
      ttlSeconds: this.#options.answerTtlSeconds,
    });
    await this.#options.onTransition?.(scope, result.job, result.transition).catch((error) =>
      this.#options.log.error("Transition hook failed", { scope, id, error: errorMessage(error) })
    );
    await this.#announce(scope);
    const event = cloudEvent({
      source: this.#options.source,
      type: `${NAMESPACE}.${STATUS_EVENT}.v2`,
      dataschema: SCHEMAS + STATUS_EVENT,
      subject: scope,
      causationid: call.id,
    });
    await this.#publish({
      topic: JOB_TOPICS.events(this.#options.prefix, scope),
      payload: JSON.stringify({
        JobOrder: result.job.order,
        JobState: jobStateArray(result.job),
        Transition: result.transition.name,
      }),
      properties: binaryProperties(event),
    });
    return { answer, stored: true };
  }

  #response(
    scope: string,
    call: Call | undefined,
    method: string,
    status: ReturnStatus,
  ): Outgoing {
    const attributes = cloudEvent({
      source: this.#options.source,
      type: call?.type ?? methodType(method),
      dataschema: `${SCHEMAS}${method}Response`,
      subject: scope,
      ...(call ? { causationid: call.id } : {}),
      ...(call?.correlationid ? { correlationid: call.correlationid } : {}),
    });
    return {
      topic: "",
      payload: JSON.stringify({ ReturnStatus: returnStatusToJson(status) }),
      properties: binaryProperties(attributes),
    };
  }

  /** Sends an answer to the call's Response Topic, echoing its Correlation Data. */
  async #send(
    answer: Outgoing,
    to: { responseTopic: string; correlationData?: Buffer },
  ): Promise<void> {
    await this.#publish({
      ...answer,
      topic: to.responseTopic,
      properties: {
        ...answer.properties,
        ...(to.correlationData ? { correlationData: to.correlationData } : {}),
      },
    });
  }

  async #publish(message: Outgoing, retain = false): Promise<void> {
    await this.#client!.publishAsync(message.topic, message.payload, {
      qos: 1,
      retain,
      properties: message.properties,
    });
  }

  /** Publishes the scope's metadata (retained) once per process. */
  async #announce(scope: string): Promise<void> {
    if (this.#announced.has(scope)) return;
    this.#announced.add(scope);
    const attributes = cloudEvent({
      source: this.#options.source,
      type: `${NAMESPACE}.Metadata.v2`,
      subject: scope,
    });
    await this.#publish({
      topic: JOB_TOPICS.metadata(this.#options.prefix, scope),
      payload: JSON.stringify({
        modelUri: "http://opcfoundation.org/UA/Machinery/Jobs/",
        modelVersion: "1.0.1",
        supportedCommands: JOB_METHODS,
        eventTypes: [STATUS_EVENT],
      }),
      properties: binaryProperties(attributes),
    }, true);
  }
}

function isMethod(name: string): name is JobMethod {
  return isJobEvent(name) && (JOB_METHODS as readonly string[]).includes(name);
}

/** A CloudEvent's attributes with the ones every outgoing event has. */
function cloudEvent(attributes: Record<string, string>): Record<string, string> {
  return {
    specversion: "1.0",
    id: crypto.randomUUID(),
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    ...attributes,
  };
}

/** MQTT v5 binary content mode: data in the payload, attributes as User Properties. */
function binaryProperties(
  attributes: Record<string, string>,
): mqtt.IClientPublishOptions["properties"] {
  return {
    contentType: attributes.datacontenttype,
    payloadFormatIndicator: true,
    userProperties: attributes,
  };
}

/** The call in either content mode; throws naming what is missing. */
function parseCall(payload: Buffer, packet: mqtt.IPublishPacket): Call {
  const contentType = packet.properties?.contentType ?? "";
  let attributes: Record<string, unknown>;
  let data: unknown;
  if (contentType.startsWith("application/cloudevents")) {
    attributes = JSON.parse(payload.toString("utf8"));
    data = attributes.data;
  } else {
    const props = packet.properties?.userProperties ?? {};
    attributes = Object.fromEntries(
      Object.entries(props).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]),
    );
    data = payload.length === 0 ? undefined : JSON.parse(payload.toString("utf8"));
  }
  for (const name of ["specversion", "id", "type"]) {
    if (typeof attributes[name] !== "string" || attributes[name] === "") {
      throw new Error(`CloudEvent attribute "${name}" is missing`);
    }
  }
  if (attributes.specversion !== "1.0") throw new Error("CloudEvent specversion must be 1.0");
  return {
    id: String(attributes.id),
    type: String(attributes.type),
    subject: attributes.subject === undefined ? undefined : String(attributes.subject),
    correlationid: attributes.correlationid === undefined
      ? undefined
      : String(attributes.correlationid),
    data,
  };
}
