import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { EdgeConfig } from "../core/edge_config.ts";
import { errorMessage, PlantgateError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { bindPlugin } from "../core/plugin_runtime.ts";
import { checkStreams, connectNats, lotEventsSubject } from "../io/jetstream.ts";
import { MqttPublisher } from "../io/mqtt_publisher.ts";
import { MqttSubscriber } from "../io/mqtt_subscriber.ts";
import { Buffer, type Intake } from "./buffer.ts";
import type { CommandRelay } from "./command_relay.ts";
import { dcsDownlink, dcsTopics, ensureDcsConsumer } from "./dcs.ts";
import { Downlink, ensureDownlinkConsumer } from "./downlink.ts";
import { DurableCommitter } from "./durable_commit.ts";
import { EdgeMetrics } from "./edge_metrics.ts";
import { Forwarder } from "./forwarder.ts";
import { type EdgeHealth, serveEdgeHttp } from "./http.ts";
import { Ingest, type Source } from "./ingest.ts";
import { loadPlugins } from "./plugin_loader.ts";

/** Binds every configured source to its plugin; throws `config_invalid`/`plugin_load_failed`. */
export async function bindSources(config: EdgeConfig, log: Logger): Promise<Source[]> {
  const plugins = await loadPlugins(config.plugins.map((p) => p.path));
  return config.sources.map((source, i) => {
    const plugin = plugins.get(source.plugin);
    if (!plugin) {
      throw new PlantgateError(
        "config_invalid",
        `sources[${i}].plugin: no plugin named "${source.plugin}" (available: ${
          [...plugins.keys()].join(", ")
        })`,
      );
    }
    return {
      topic: source.topic,
      subject: lotEventsSubject(config.plantId, source.system),
      bound: bindPlugin(plugin, {
        plantId: config.plantId,
        system: source.system,
        timeZone: config.timeZone,
        options: source.options,
        log,
        optionsLabel: `sources[${i}].options`,
      }),
    };
  });
}

/**
 * The edge role: MQTT ingest -> plugins -> fsync'd buffer -> JetStream forwarder, plus HTTP.
 * Construct and `start()`; `stop()` drains in reverse order (idempotent).
 */
export class Edge {
  readonly metrics = new EdgeMetrics();
  readonly #config: EdgeConfig;
  readonly #log: Logger;
  #buffer: Buffer | undefined;
  #committer: DurableCommitter | undefined;
  #subscriber: MqttSubscriber<Intake> | undefined;
  #ingest: Ingest | undefined;
  #forwarder: Forwarder | undefined;
  #downlink: Downlink | undefined;
  #dcsDownlink: CommandRelay | undefined;
  #commandPublisher: MqttPublisher | undefined;
  #sources: Source[] = [];
  #nc: NatsConnection | undefined;
  #http: Deno.HttpServer<Deno.NetAddr> | undefined;
  #connecting: Promise<void> | undefined;
  #maintenance: ReturnType<typeof setInterval> | undefined;
  #stopping = false;
  #natsConnected = false;
  readonly #abort = new AbortController();

  constructor(config: EdgeConfig, log: Logger) {
    this.#config = config;
    this.#log = log.child({ plant: config.plantId });
  }

  /** The HTTP address actually bound (port 0 in tests), if HTTP is on. */
  get httpAddress(): Deno.NetAddr | undefined {
    return this.#http?.addr;
  }

  /** Opens the buffer, starts ingest, HTTP, and the forwarder (connecting in the background). */
  async start(): Promise<void> {
    const config = this.#config;
    const sources = await bindSources(config, this.#log);
    this.#sources = sources;
    this.#buffer = Buffer.open(config.buffer.path, {
      maxBytes: config.buffer.maxBytes,
      dedupeWindowMs: config.buffer.dedupeWindowHours * 3600_000,
      syncCommits: false,
    });
    const committer = await DurableCommitter.open(this.#buffer, {
      onStored: () => this.#forwarder?.notify(),
      onFsyncError: (error, attempt) => {
        if (attempt === 1) this.metrics.error(this.#log, error.code, "buffer", error.message);
        else this.metrics.errors.inc({ code: error.code, stage: "buffer" });
      },
    });
    this.#committer = committer;
    const stats = this.#buffer.stats();
    this.#log.info("Buffer open", {
      path: config.buffer.path,
      backlog: stats.backlog,
      deadLetters: stats.deadLetters,
      usedBytes: stats.usedBytes,
    });
    this.#ingest = new Ingest(committer, sources, {
      maxPayloadBytes: config.ingest.maxPayloadBytes,
      warnAt: config.buffer.warnAt,
      ...(config.dcs.enabled ? { dcs: { plantId: config.plantId } } : {}),
      log: this.#log.child({ component: "ingest" }),
      metrics: this.metrics,
    });
    if (config.http.listen !== false) {
      this.#http = serveEdgeHttp(config.http.listen, {
        health: () => this.health(),
        metrics: () => this.#renderMetrics(),
      }, this.#log);
    }
    this.#subscriber = new MqttSubscriber({
      url: config.mqtt.url,
      clientId: config.mqtt.clientId,
      topics: [
        ...sources.map((s) => s.topic),
        ...(config.dcs.enabled ? dcsTopics(config.plantId, config.dcs) : []),
      ],
      username: config.mqtt.username,
      password: config.mqtt.password,
      sessionExpirySeconds: config.mqtt.sessionExpirySeconds,
      receiveMaximum: config.mqtt.receiveMaximum,
      keepaliveSeconds: config.mqtt.keepaliveSeconds,
      maxBatch: config.ingest.maxBatch,
      prepare: this.#ingest.prepare,
      log: this.#log.child({ component: "mqtt" }),
    }, this.#ingest.handle);
    this.#subscriber.start();
    this.#connecting = this.#connectCentre();
    this.#maintenance = setInterval(() => this.#maintain(), 60_000);
  }

  async #connectCentre(): Promise<void> {
    const config = this.#config;
    try {
      this.#nc = await connectNats({
        ...config.nats,
        log: this.#log.child({ component: "nats" }),
        signal: this.#abort.signal,
        onStatus: (connected) => this.#natsConnected = connected,
      });
      this.#natsConnected = true;
    } catch (error) {
      if (this.#stopping) return;
      this.metrics.error(
        this.#log,
        "nats_connection",
        "forward",
        `Cannot connect to NATS: ${errorMessage(error)}`,
      );
      return;
    }
    if (this.#stopping) return;
    try {
      await checkStreams(this.#nc, [
        "LOT_EVENTS",
        "DEAD_LETTERS",
        ...(config.dcs.enabled ? ["JOB_EVENTS"] : []),
      ]);
    } catch (error) {
      // Not fatal: the forwarder retries until the central role has created the streams.
      this.metrics.error(this.#log, "stream_not_found", "forward", errorMessage(error));
    }
    this.#forwarder = new Forwarder(this.#buffer!, jetstream(this.#nc), {
      plantId: config.plantId,
      maxInFlight: config.forwarder.maxInFlight,
      publishTimeoutMs: config.forwarder.publishTimeoutMs,
      backoff: config.forwarder.backoff,
      log: this.#log,
      metrics: this.metrics,
    });
    if (!this.#stopping) this.#forwarder.start();
    if (config.downlink.enabled && !this.#stopping) await this.#startDownlink(this.#nc);
    if (config.dcs.enabled && !this.#stopping) await this.#startDcsDownlink(this.#nc);
  }

  /** The DCS commands: JOB_COMMANDS -> plant/<plant>/dcs/<scope>/jobs/commands. */
  async #startDcsDownlink(nc: NatsConnection): Promise<void> {
    const config = this.#config;
    const log = this.#log.child({ component: "dcs-downlink" });
    if (!await this.#ensureConsumer(nc, ensureDcsConsumer, "DCS command consumer")) return;
    this.#commandPublisher ??= this.#newCommandPublisher(log);
    this.#dcsDownlink = dcsDownlink(jetstream(nc), this.#commandPublisher, {
      plantId: config.plantId,
      scopes: config.dcs.scopes,
      backoff: config.downlink.backoff,
      log,
      metrics: this.metrics,
    });
    if (!this.#stopping) this.#dcsDownlink.start();
  }

  /** Creates or updates a durable consumer of the plant; false (reported) when it cannot. */
  async #ensureConsumer(
    nc: NatsConnection,
    ensure: (jsm: JetStreamManager, plantId: string, ackWaitSeconds: number) => Promise<void>,
    what: string,
  ): Promise<boolean> {
    const config = this.#config;
    try {
      await ensure(await jetstreamManager(nc), config.plantId, config.downlink.ackWaitSeconds);
      return true;
    } catch (error) {
      this.metrics.error(
        this.#log,
        "stream_not_found",
        "downlink",
        `No ${what}: ${errorMessage(error)}`,
      );
      return false;
    }
  }

  #newCommandPublisher(log: Logger): MqttPublisher {
    const config = this.#config;
    return new MqttPublisher({
      url: config.mqtt.url,
      clientId: `${config.mqtt.clientId}-downlink`,
      username: config.mqtt.username,
      password: config.mqtt.password,
      timeoutMs: config.downlink.publishTimeoutMs,
      log,
    });
  }

  async #startDownlink(nc: NatsConnection): Promise<void> {
    const config = this.#config;
    const log = this.#log.child({ component: "downlink" });
    if (!await this.#ensureConsumer(nc, ensureDownlinkConsumer, "command consumer")) return;
    this.#commandPublisher ??= this.#newCommandPublisher(log);
    this.#downlink = new Downlink(jetstream(nc), this.#commandPublisher, {
      ...config.downlink,
      plantId: config.plantId,
      plugins: new Map(this.#sources.map((s) => [s.bound.ctx.system, s.bound])),
      log,
      metrics: this.metrics,
    });
    if (!this.#stopping) this.#downlink.start();
  }

  #maintain(): void {
    try {
      const forgotten = this.#buffer?.pruneSeen() ?? 0;
      if (forgotten > 0) this.#log.debug("Pruned dedupe ids", { forgotten });
      this.#buffer?.recount();
    } catch (error) {
      this.metrics.error(this.#log, "buffer_write_failed", "buffer", errorMessage(error));
    }
  }

  /** Readiness and the figures behind it. */
  health(): EdgeHealth {
    const stats = this.#buffer!.stats();
    const failure = this.#ingest?.lastFailure;
    const mqttConnected = this.#subscriber?.connected ?? false;
    const lastAck = this.#forwarder?.lastAckAt ?? null;
    return {
      ready: mqttConnected && !failure,
      mqttConnected,
      bufferWritable: !failure,
      ...(failure ? { bufferProblem: failure.code } : {}),
      centreReachable: this.#natsConnected && (this.#forwarder?.publishing ?? false),
      lastForwardAckAt: lastAck === null ? null : new Date(lastAck).toISOString(),
      backlog: stats.backlog,
      oldestUnsentAgeSeconds: stats.oldestReceivedAt === null
        ? null
        : Math.max(0, (Date.now() - stats.oldestReceivedAt) / 1000),
      bufferUsedBytes: stats.usedBytes,
      bufferMaxBytes: stats.maxBytes,
      deadLettersUnforwarded: stats.deadLettersUnforwarded,
    };
  }

  #renderMetrics(): string {
    const h = this.health();
    const memory = Deno.memoryUsage();
    const gauges = [
      ["plantgate_edge_backlog", "Events in the buffer waiting for a JetStream ack.", h.backlog],
      ["plantgate_edge_backlog_bytes", "Bytes counted against buffer.maxBytes.", h.bufferUsedBytes],
      ["plantgate_edge_buffer_max_bytes", "buffer.maxBytes.", h.bufferMaxBytes],
      [
        "plantgate_edge_oldest_unsent_age_seconds",
        "Age of the oldest unsent event.",
        h.oldestUnsentAgeSeconds ?? 0,
      ],
      [
        "plantgate_edge_dead_letters_unforwarded",
        "Dead letters not yet at the centre.",
        h.deadLettersUnforwarded,
      ],
      [
        "plantgate_edge_mqtt_connected",
        "1 when subscribed to the plant broker.",
        h.mqttConnected ? 1 : 0,
      ],
      [
        "plantgate_edge_centre_reachable",
        "1 when the last JetStream publish succeeded.",
        h.centreReachable ? 1 : 0,
      ],
      ["plantgate_edge_ready", "1 when /readyz answers 200.", h.ready ? 1 : 0],
      ["process_resident_memory_bytes", "Resident memory of the edge process.", memory.rss],
      ["plantgate_edge_heap_used_bytes", "JavaScript heap in use.", memory.heapUsed],
      ["plantgate_edge_heap_total_bytes", "JavaScript heap reserved.", memory.heapTotal],
      [
        "plantgate_edge_external_memory_bytes",
        "Byte buffers held outside the JavaScript heap.",
        memory.external,
      ],
    ] as const;
    const text = gauges.map(([name, help, value]) =>
      `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${value}`
    ).join("\n");
    return this.metrics.registry.render() + text + "\n";
  }

  /** Stops ingest (acking what is committed), the forwarder, NATS, HTTP, then the buffer. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#abort.abort();
    clearInterval(this.#maintenance);
    // Failing fsyncs stop being retried, so acknowledging what is durable cannot hang.
    const closing = this.#committer?.close();
    await this.#subscriber?.stop();
    await closing;
    await this.#forwarder?.stop();
    await this.#connecting;
    await this.#downlink?.stop();
    await this.#dcsDownlink?.stop();
    await this.#commandPublisher?.close();
    await this.#nc?.close();
    await this.#http?.shutdown();
    this.#buffer?.close();
    this.#log.info("Edge stopped");
  }
}
